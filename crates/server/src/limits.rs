//! Request limits that tonic enforces with the wrong status code. tonic refuses a message over
//! the decoding limit with OUT_OF_RANGE; gRPC's status-code guide names RESOURCE_EXHAUSTED for
//! "message larger than the configured maximum", which is what grpc-go and grpc-java answer. This
//! layer rewrites exactly that refusal (a trailers-only response whose message is tonic's), so a
//! client sees the standard code.

use std::task::{Context, Poll};

use futures::future::{BoxFuture, FutureExt};
use http::HeaderValue;

/// tonic's message for a request over the decoding limit.
const TOO_LARGE_PREFIX: &str = "Error, decoded message length too large";

/// Maps tonic's "message too large" OUT_OF_RANGE to RESOURCE_EXHAUSTED.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageSizeStatusLayer;

impl<S> tower::Layer<S> for MessageSizeStatusLayer {
    type Service = MessageSizeStatus<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MessageSizeStatus { inner }
    }
}

/// The service of [`MessageSizeStatusLayer`].
#[derive(Debug, Clone)]
pub struct MessageSizeStatus<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for MessageSizeStatus<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        self.inner
            .call(request)
            .map(|result| {
                result.map(|mut response| {
                    rewrite(response.headers_mut());
                    response
                })
            })
            .boxed()
    }
}

fn rewrite(headers: &mut http::HeaderMap) {
    let out_of_range = headers
        .get("grpc-status")
        .is_some_and(|s| s == HeaderValue::from_static("11"));
    let too_large = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .and_then(|m| percent_encoding::percent_decode_str(m).decode_utf8().ok())
        .is_some_and(|m| m.starts_with(TOO_LARGE_PREFIX));
    if out_of_range && too_large {
        headers.insert("grpc-status", HeaderValue::from_static("8"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_size_refusal_is_rewritten() {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-status", HeaderValue::from_static("11"));
        headers.insert(
            "grpc-message",
            HeaderValue::from_static("Error,%20decoded%20message%20length%20too%20large: found 5"),
        );
        rewrite(&mut headers);
        assert_eq!(headers["grpc-status"], "8");

        let mut other = http::HeaderMap::new();
        other.insert("grpc-status", HeaderValue::from_static("11"));
        other.insert(
            "grpc-message",
            HeaderValue::from_static("page out of range"),
        );
        rewrite(&mut other);
        assert_eq!(other["grpc-status"], "11");
    }
}

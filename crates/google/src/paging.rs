//! Paging over Google's list methods (`maxResults` + `pageToken` → `nextPageToken`), as pages, a
//! stream of items, or one collected list. Each page is an ordinary call through
//! [`DomainClient::execute`], so it is rate limited and retried like any other; a page token that
//! repeats is reported instead of looping forever.

use std::marker::PhantomData;

use futures::Stream;

use crate::client::DomainClient;
use crate::error::{ErrorClass, GoogleError};
use crate::method::GoogleMethod;
use crate::model::ListEnvelope;
use crate::request::ApiRequest;

type BuildPage = Box<dyn Fn(&str, Option<&str>) -> ApiRequest + Send + Sync>;

/// The pages of one list call. Build it with a [`DomainClient`] list method, then use
/// [`Pages::next_page`], [`Pages::collect_all`] or [`Pages::into_stream`].
pub struct Pages<E: ListEnvelope> {
    client: DomainClient,
    /// Builds the request of a page from the customer id (Licensing needs the real one) and
    /// the page token.
    build: BuildPage,
    /// The list method the pages are fetched with.
    method: GoogleMethod,
    needs_customer_id: bool,
    next_token: Option<String>,
    finished: bool,
    pages_fetched: u32,
    _envelope: PhantomData<fn() -> E>,
}

impl<E: ListEnvelope> Pages<E> {
    pub(crate) fn new(
        client: DomainClient,
        needs_customer_id: bool,
        build: impl Fn(&str, Option<&str>) -> ApiRequest + Send + Sync + 'static,
    ) -> Self {
        let method = build("", None).method;
        Self {
            client,
            build: Box::new(build),
            method,
            needs_customer_id,
            next_token: None,
            finished: false,
            pages_fetched: 0,
            _envelope: PhantomData,
        }
    }

    /// The next page, or `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<E::Item>>, GoogleError> {
        if self.finished {
            return Ok(None);
        }
        let customer = if self.needs_customer_id {
            // Before the first page, the customer id (one Directory call, then cached) and the
            // list's own access token are fetched at the same time, not one after the other.
            let first_token = async {
                if self.pages_fetched == 0 {
                    self.client.warm_token(self.method).await;
                }
            };
            let (customer, ()) = tokio::join!(self.client.customer_id(), first_token);
            customer?
        } else {
            String::new()
        };
        let request = (self.build)(&customer, self.next_token.as_deref());
        let envelope: E = self.client.execute(request).await?;
        self.pages_fetched += 1;
        let (items, next) = envelope.into_page();
        match next {
            Some(token) if self.next_token.as_deref() == Some(token.as_str()) => {
                self.finished = true;
                return Err(GoogleError::new(
                    Some(self.method),
                    ErrorClass::Unexpected,
                    format!(
                        "page {} returned its own page token again",
                        self.pages_fetched
                    ),
                ));
            }
            Some(token) => self.next_token = Some(token),
            None => self.finished = true,
        }
        Ok(Some(items))
    }

    /// Every item of every page.
    pub async fn collect_all(mut self) -> Result<Vec<E::Item>, GoogleError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }

    /// Whether Google announced another page (the last page fetched carried a page token).
    /// Before the first page it is true: nothing is known yet.
    pub fn has_more(&self) -> bool {
        !self.finished
    }

    /// How many pages have been fetched so far.
    pub fn pages_fetched(&self) -> u32 {
        self.pages_fetched
    }

    /// The items one by one, fetching pages as needed; ends after the first error.
    pub fn into_stream(self) -> impl Stream<Item = Result<E::Item, GoogleError>> + Send + 'static {
        futures::stream::unfold(
            (self, std::collections::VecDeque::new(), false),
            |(mut pages, mut buffer, failed)| async move {
                loop {
                    if let Some(item) = buffer.pop_front() {
                        return Some((Ok(item), (pages, buffer, failed)));
                    }
                    if failed {
                        return None;
                    }
                    match pages.next_page().await {
                        Ok(Some(page)) => buffer.extend(page),
                        Ok(None) => return None,
                        Err(e) => return Some((Err(e), (pages, buffer, true))),
                    }
                }
            },
        )
    }
}

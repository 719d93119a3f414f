//! The engine's own tokio runtime, beside the one that serves RPCs.
//!
//! A pass of the engine plans and journals a whole domain at once (milliseconds of CPU for a
//! 500-account domain) and parses Google's pages; on the runtime that serves RPCs such a pass
//! holds one of its few worker threads, and a request that arrives meanwhile waits in that
//! runtime's queue until the pass yields. On threads of their own, the operating system shares
//! the cores between both and wakes the RPC threads when a request arrives. Both runtimes share
//! the database pool and the HTTP client: tokio wakes a task on its own runtime whichever
//! runtime's driver saw its socket become ready.

use tokio::runtime::{Builder, Handle, Runtime};

/// A runtime with one worker thread per core (tokio's default), threads named `engine`. Dropping
/// it stops its tasks where they next yield, without waiting for them (as the end of the process
/// would).
pub struct EngineRuntime {
    runtime: Option<Runtime>,
}

impl EngineRuntime {
    /// Starts the runtime's threads.
    pub fn start() -> std::io::Result<EngineRuntime> {
        let nice = engine_nice();
        let runtime = Builder::new_multi_thread()
            .thread_name("engine")
            .on_thread_start(move || set_nice(nice))
            .enable_all()
            .build()?;
        Ok(EngineRuntime {
            runtime: Some(runtime),
        })
    }

    /// Where engine tasks are spawned.
    pub fn handle(&self) -> &Handle {
        self.runtime
            .as_ref()
            .expect("the runtime is only taken when dropped")
            .handle()
    }
}

/// How much lower than the RPC threads' the engine threads' scheduling priority is (a nice
/// value): when both want a core, a request goes first. Google's quotas, not the CPU, set the
/// engine's pace, and the pacer's wake-ups still come within a few milliseconds.
pub const ENGINE_NICE: i32 = 5;

/// The engine threads' nice value: [`ENGINE_NICE`] above the calling thread's (the server's).
/// Taken once, since a thread inherits its creator's value and the runtime's blocking threads
/// are created by its (already lowered) worker threads.
#[cfg(target_os = "linux")]
fn engine_nice() -> Option<i32> {
    rustix::process::getpriority_process(None)
        .ok()
        .map(|server| (server + ENGINE_NICE).min(19))
}

/// Sets the calling thread's nice value. On Linux the nice value belongs to a thread, and
/// setpriority for "the calling process" sets the calling thread's (man 2 setpriority, NOTES).
/// Lowering needs no privilege; a failure only leaves the priority as it was.
#[cfg(target_os = "linux")]
fn set_nice(nice: Option<i32>) {
    if let Some(nice) = nice {
        let _ = rustix::process::setpriority_process(None, nice);
    }
}

/// Elsewhere the engine threads keep the server's priority.
#[cfg(not(target_os = "linux"))]
fn engine_nice() -> Option<i32> {
    None
}

#[cfg(not(target_os = "linux"))]
fn set_nice(_: Option<i32>) {}

impl Drop for EngineRuntime {
    fn drop(&mut self) {
        // Dropping a runtime blocks until its threads end, which tokio forbids inside another
        // runtime (where the server drops this); `shutdown_background` does not wait.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    fn nice() -> i32 {
        rustix::process::getpriority_process(None).unwrap()
    }

    #[tokio::test]
    async fn runs_tasks_on_its_own_threads_at_a_lower_priority_and_drops_inside_another_runtime() {
        let engine = EngineRuntime::start().unwrap();
        let thread = engine
            .handle()
            .spawn(async { std::thread::current().name().map(str::to_owned) })
            .await
            .unwrap();
        assert_eq!(thread.as_deref(), Some("engine"));
        #[cfg(target_os = "linux")]
        {
            let expected = (nice() + ENGINE_NICE).min(19);
            let worker = engine.handle().spawn(async { nice() }).await.unwrap();
            assert_eq!(worker, expected);
            // A blocking thread is created by a worker thread, whose value it inherits.
            let blocking = engine
                .handle()
                .spawn(async { tokio::task::spawn_blocking(nice).await.unwrap() })
                .await
                .unwrap();
            assert_eq!(blocking, expected);
        }
        let (_tx, never) = tokio::sync::oneshot::channel::<()>();
        let pending = engine.handle().spawn(async move {
            let _ = never.await;
        });
        drop(engine);
        assert!(pending.await.unwrap_err().is_cancelled());
    }
}

//! Blocking delivery I/O on a thread of its own, at a lower CPU priority than intake.
//!
//! Why: writing a file is kernel work (creating it, allocating its pages, syncing, renaming:
//! ~95 µs of CPU per delivered file on the reference machine), and a destination that is
//! behind keeps a core busy with it. On a small machine that core is taken from the
//! connections waiting for their ACKs. A sender blocks on its ACK; a queued message is already
//! durable and waits in order. So delivery yields: its file I/O runs at a nice value
//! [`NICE_STEP`] above the engine's, and gets whatever CPU intake leaves (all of it when intake
//! is idle, so a backlog drains at full speed). Measured (docs/performance.md, "A faster
//! host", "Delivery yields to intake"): `interval` 16 × 1 with a file destination 26.8–29.8k
//! against 22.3–23.9k msgs/s, `sync` 16 × 1 13.4–14.0k against 10.6–12.5k.
//!
//! Only on Linux, where the nice value belongs to a thread (`setpriority(2)`, BUGS); elsewhere
//! the same call would lower the whole process, so the work just runs on its own thread.
//! Threads the work starts (the batch's sync threads) inherit the priority.

use tokio::sync::oneshot;

/// How much lower than the engine's own priority delivery I/O runs (nice values; 19 at
/// most). At 10 the kernel gives such a thread about a tenth of a busy core's time next to
/// a normal one; 5 measured only half the gain.
pub const NICE_STEP: i32 = 10;

/// The lowest priority (highest nice value) Linux has.
const MAX_NICE: i32 = 19;

/// Runs `work` on a new thread named `name` at the lowered priority and returns what it
/// returned; `Err` if no thread could be started or the work panicked (the caller retries).
pub async fn run<T, F>(name: &str, work: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (done, result) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            lower_priority();
            let _ = done.send(work());
        })
        .map_err(|error| format!("could not start a {name} thread: {error}"))?;
    result
        .await
        .map_err(|_| format!("the {name} thread ended without an answer (it panicked)"))
}

/// Lowers the calling thread's priority by [`NICE_STEP`]. Best effort: lowering needs no
/// privilege, and if it fails the work runs at normal priority, as before.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        // `None`: the calling thread (Linux keeps a nice value per thread).
        if let Ok(current) = getpriority_process(None) {
            let _ = setpriority_process(None, current.saturating_add(NICE_STEP).min(MAX_NICE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_work_runs_on_its_own_thread_and_gives_its_result_back() {
        let caller = std::thread::current().id();
        let (thread, name) = run("ihub-test-io", || {
            let me = std::thread::current();
            (me.id(), me.name().map(str::to_owned))
        })
        .await
        .unwrap();
        assert_ne!(thread, caller);
        assert_eq!(name.as_deref(), Some("ihub-test-io"));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_work_runs_at_a_lower_priority_and_the_caller_keeps_its_own() {
        use rustix::process::getpriority_process;
        let before = getpriority_process(None).unwrap();
        let inside = run("ihub-test-io", || getpriority_process(None).unwrap())
            .await
            .unwrap();
        assert_eq!(inside, (before + NICE_STEP).min(MAX_NICE));
        assert_eq!(getpriority_process(None).unwrap(), before);
    }

    #[tokio::test]
    async fn a_panic_is_an_error_not_a_hang() {
        let result: Result<(), String> = run("ihub-test-io", || panic!("boom")).await;
        let error = result.unwrap_err();
        assert!(error.contains("ihub-test-io"), "{error}");
    }
}

//! Script threads: rhai recurses on the native stack, deeper than an ordinary thread's 2 MiB
//! allows (see [`SCRIPT_THREAD_STACK_BYTES`]), so scripts are compiled and run only on threads
//! with a large stack: the caller's, if [`spawn_script_thread`] started it, or a companion
//! thread kept for each calling thread.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Runs `f` on a script thread and returns what it returns: in place when the current thread
/// is one (see [`spawn_script_thread`]), otherwise on the calling thread's companion script
/// thread, waiting for it. A panic in `f` is resumed on the calling thread.
///
/// The companion is started on first use (about 50 µs) and kept for as long as the calling
/// thread lives, so a pool of ordinary threads (tokio's blocking pool, say) pays one hand-over
/// per call (10 to 25 µs measured on a busy 2-core host) instead of a thread start. Filters and
/// transforms do this by themselves; calling them inside one `run_on_script_thread` makes
/// several runs share one hand-over. Errors only when a thread cannot be started.
pub fn run_on_script_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    if ON_SCRIPT_THREAD.get() {
        return Ok(f());
    }
    let (reply, result) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        // Whatever happens, the caller gets an answer.
        let _ = reply.send(catch_unwind(AssertUnwindSafe(f)));
    });
    hand_over(job)?;
    match result.recv() {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        // The job was dropped unrun: only possible if its thread could not run it.
        Err(_) => Err(std::io::Error::other(
            "the script thread ended before the job ran",
        )),
    }
}

/// Work for a companion script thread; it sends its own result back.
type Job = Box<dyn FnOnce() + Send>;

thread_local! {
    /// The job queue of this thread's companion script thread, once started. Dropping it when
    /// this thread exits ends the companion's loop.
    static COMPANION: RefCell<Option<mpsc::Sender<Job>>> = const { RefCell::new(None) };
}

/// Gives `job` to this thread's companion, starting one if there is none (or it has gone).
/// During thread teardown, when thread-locals are gone, a one-off thread runs it.
fn hand_over(job: Job) -> std::io::Result<()> {
    let mut job = Some(job);
    let handed = COMPANION.try_with(|slot| -> std::io::Result<()> {
        let Ok(mut slot) = slot.try_borrow_mut() else {
            return Ok(());
        };
        if let Some(sender) = slot.as_ref()
            && let Some(j) = job.take()
            && let Err(mpsc::SendError(back)) = sender.send(j)
        {
            // The companion has gone (it cannot, short of a bug): start another.
            job = Some(back);
        }
        if job.is_some() {
            let (sender, jobs) = mpsc::channel::<Job>();
            spawn_script_thread("ihub-script", move || {
                while let Ok(job) = jobs.recv() {
                    job();
                }
            })?;
            if let Some(j) = job.take()
                && let Err(mpsc::SendError(back)) = sender.send(j)
            {
                job = Some(back);
            }
            *slot = Some(sender);
        }
        Ok(())
    });
    match (handed, job) {
        (Ok(Err(e)), _) => Err(e),
        (_, None) => Ok(()),
        // Thread-locals are gone (or busy): a thread of its own.
        (_, Some(job)) => spawn_script_thread("ihub-script", job).map(drop),
    }
}

/// The stack size of script threads: 256 MiB of address space, of which only the pages a run
/// touches are ever backed by memory.
///
/// rhai recurses natively for every nesting level of a script value when it clones, compares,
/// prints or size-checks it, and for every script function call. Measured on rhai 1.27: about
/// 6.5 KB per call level in release (45 KB in debug), and up to 3.4 KB per level of nested
/// arrays or maps in release (11 KB in debug) for `==` and `to_string`. Nesting is bounded only
/// by the size limits and by time (each level re-checks the whole value, so depth grows with
/// the square root of the time spent): a script reached 5,000 levels in under a second, which
/// overflows the 2 MiB of a tokio blocking thread and aborts the process. 256 MiB holds about
/// 75,000 levels in release and 23,000 in debug.
pub const SCRIPT_THREAD_STACK_BYTES: usize = 256 * 1024 * 1024;

thread_local! {
    /// Set on threads started with [`spawn_script_thread`] (companions included): scripts run
    /// on them in place instead of being handed to another thread.
    pub(crate) static ON_SCRIPT_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Spawns a thread suited to running scripts: a [`SCRIPT_THREAD_STACK_BYTES`] stack, and marked
/// so that [`Filter::accepts`](super::Filter::accepts) and
/// [`Transform::apply`](super::Transform::apply) run in place on it (a few microseconds)
/// instead of being handed to a companion script thread (10 to 25 µs more, see
/// [`run_on_script_thread`]). A pipeline that runs many scripts may run them on a few such
/// threads.
pub fn spawn_script_thread<F, T>(name: impl Into<String>, f: F) -> std::io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::Builder::new()
        .name(name.into())
        .stack_size(SCRIPT_THREAD_STACK_BYTES)
        .spawn(move || {
            ON_SCRIPT_THREAD.set(true);
            f()
        })
}

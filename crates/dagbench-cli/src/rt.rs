//! The binary's one way to build a tokio runtime and its one shutdown
//! signal (SIGINT or SIGTERM), for every subcommand.

/// Threads for blocking work — local file writes (object_store) and `--work
/// cpu` burns: one per core. Tokio's default (512) lets 64 workers' writes
/// spread over dozens of threads that mostly wake each other up; one per
/// core doubled `bench local`'s throughput on 2 cores, and a CPU burn gets
/// a whole core while it runs.
fn blocking_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, std::num::NonZero::get)
        .max(2)
}

/// A multi-threaded runtime: one worker thread per core (at least two),
/// one blocking thread per core, timers and I/O enabled.
pub(crate) fn multi_thread() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(blocking_threads())
        .max_blocking_threads(blocking_threads())
        .enable_all()
        .build()
}

/// Runs `future` on a [`multi_thread`] runtime, then shuts the runtime
/// down without waiting more than a second for blocking work still going
/// (a read that never ends must not keep the process alive — deaf to
/// signals — once its answer is no longer wanted).
pub(crate) fn run_multi_thread<F: std::future::Future>(future: F) -> std::io::Result<F::Output> {
    let runtime = multi_thread()?;
    let out = runtime.block_on(future);
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(out)
}

/// A runtime on the calling thread, for commands that make a few calls.
#[cfg(feature = "full")]
pub(crate) fn current_thread() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Resolves on the next SIGINT (Ctrl-C) or SIGTERM (ECS stopping a task).
pub(crate) async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminated => {}
    }
}

/// A run's stop switch: the first signal turns it on (no new dispatches;
/// in-flight jobs get the run's grace), with `notice` on standard error
/// unless `quiet`; a second signal exits at once with 130. Call it before
/// any setup, so that a stop asked for during setup is honoured too.
#[cfg(feature = "full")]
pub(crate) fn stop_switch(notice: &'static str, quiet: bool) -> tokio::sync::watch::Receiver<bool> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        if !quiet {
            errln!("\n{notice}");
        }
        let _ = stop_tx.send(true);
        shutdown_signal().await;
        std::process::exit(130);
    });
    stop_rx
}

//! Shutdown: one handle, passed to every task, that says "stop now".
//!
//! In: a signal (SIGTERM, SIGINT) or a caller's request. Out: every task that
//! holds a [`Shutdown`] sees it, finishes or abandons its current step
//! cleanly (nothing half-applied: a delivery is either committed or swept),
//! and returns. The daemon then waits for the tasks up to a deadline.

use tokio::sync::watch;

/// The sending side: trigger once; every [`Shutdown`] clone sees it.
#[derive(Debug, Clone)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// The receiving side, cheap to clone, one per task.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A new trigger and its first handle.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
    pub fn subscribe(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }
}

impl Shutdown {
    /// True once shutdown has been asked for.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when shutdown is asked for (at once if it already was).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|v| *v).await;
    }

    /// Sleeps for `d` unless shutdown comes first; returns false if it did.
    pub async fn sleep(&mut self, d: std::time::Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.wait() => false,
        }
    }
}

/// Waits for SIGTERM or SIGINT, then triggers shutdown. The only place that
/// handles signals.
pub async fn on_signals(trigger: ShutdownTrigger) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    trigger.trigger();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn every_handle_sees_the_trigger() {
        let (t, mut a) = channel();
        let mut b = t.subscribe();
        assert!(!a.is_triggered());
        let waiter = tokio::spawn(async move {
            b.wait().await;
            true
        });
        t.trigger();
        a.wait().await;
        assert!(waiter.await.unwrap());
        assert!(
            !a.sleep(Duration::from_secs(3600)).await,
            "sleep is cut short"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn sleep_runs_out_without_trigger() {
        let (_t, mut a) = channel();
        assert!(a.sleep(Duration::from_secs(5)).await);
    }
}

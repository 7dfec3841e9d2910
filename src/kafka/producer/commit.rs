//! Ending a transaction: committed, its events acknowledged; or aborted (the fault), its
//! records sent again in the next.

use std::time::Instant;

use super::Producer;
use crate::kafka::KafkaError;

impl Producer {
    /// Commits the open transaction, if any (every request of it answered): its events, those
    /// of `acked` from `committed` on and the earlier ones waiting, are then acknowledged. One
    /// to be aborted (the fault) is aborted instead, and its records go again, in the next.
    pub(super) fn commit(&mut self, acked: &mut Vec<u64>, committed: &mut usize) -> Result<(), KafkaError> {
        let (Some(txn), Some(identity)) = (&mut self.txn, self.identity) else { return Ok(()) };
        if !txn.is_open() {
            return Ok(());
        }
        let commit = !txn.doomed();
        // Its delivery timeout counts from its oldest record.
        let deadline = txn.began().unwrap_or_else(Instant::now) + self.delivery_timeout;
        match txn.end(&mut self.client, identity, commit, deadline) {
            // Protocol v2: every transaction ends with a new epoch, and sequences start again.
            Ok(Some(next)) if next != identity => {
                self.identity = Some(next);
                self.window.reset_sequences();
            }
            Ok(_) => {}
            Err(KafkaError::NotReady { last, .. }) => return Err(self.timed_out(last)),
            Err(e) => return Err(e),
        }
        if commit {
            acked.append(&mut self.uncommitted);
            *committed = acked.len();
        } else {
            acked.truncate(*committed);
            self.uncommitted.clear();
            // Each partition's records in their order, as they went the first time.
            for (_, record, event, made) in std::mem::take(&mut self.doomed_records) {
                self.aborted_events.push(event);
                self.submit(record, event, made)?;
            }
        }
        Ok(())
    }

    /// The events whose records were aborted (the fault) since the last call; each goes again.
    pub fn take_aborted(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.aborted_events)
    }
}

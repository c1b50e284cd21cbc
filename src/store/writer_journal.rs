//! The writer's upkeep of its journal: writing a group's records, the syncs that `interval`
//! accepts wait for in the background, and moving to the next segment (made ahead by the
//! sync thread, so the move costs no directory sync under the writer's lock).

use std::time::Instant;

use super::{SYNC_RETRY, StoreError, WriterState};

impl WriterState {
    /// Asks the syncer to make the segment after the current one once the current one is
    /// half full, so that rotating to it costs no directory sync under the writer's lock.
    pub(super) fn prepare_next_segment(&mut self) {
        if self.next_segment.is_some() {
            return;
        }
        if let (Some(journal), Some(syncer)) = (&self.journal, &self.syncer)
            && journal.len() >= self.prepare_next_at
        {
            let (dir, number) = journal.next_segment();
            self.next_segment = Some(syncer.prepare(dir, number));
        }
    }

    /// Syncs journal records whose durability deadline has passed.
    pub(super) fn sync_journal(&mut self) {
        let Some(journal) = self.journal.as_mut() else {
            self.journal_sync_by = None;
            return;
        };
        match journal.sync() {
            Ok(()) => self.journal_sync_by = None,
            Err(error) => {
                tracing::error!(%error, "Store journal sync failed; retrying.");
                self.journal_sync_by = Some(Instant::now() + SYNC_RETRY);
            }
        }
    }

    /// Hands the due journal sync to the helper thread (or syncs here without one).
    pub(super) fn sync_journal_in_background(&mut self) {
        let (Some(journal), Some(syncer)) = (self.journal.as_ref(), self.syncer.as_ref()) else {
            self.sync_journal();
            return;
        };
        let (file, len, progress) = journal.sync_job();
        syncer.sync(file, len, Some(progress));
        self.journal_sync_by = None;
    }

    /// Closes the current journal segment and starts the next; the closed one is synced on
    /// the helper thread (here without one).
    pub(super) fn rotate(&mut self) {
        let Some(journal) = self.journal.as_mut() else {
            return;
        };
        // Ready or not: waiting for the syncer could take longer than making it here.
        let prepared = self
            .next_segment
            .take()
            .and_then(|next| next.try_recv().ok())
            .and_then(Result::ok);
        match journal.rotate(prepared) {
            Ok(closed) => {
                self.journal_sync_by = None;
                match &self.syncer {
                    Some(syncer) => syncer.finish(closed),
                    None => {
                        if let Err(error) = closed.finish() {
                            tracing::error!(%error, "Cannot sync a closed store journal segment; the next checkpoint syncs it again.");
                        }
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "Cannot start a new store journal segment; retrying at the next group.");
            }
        }
    }

    /// Appends the group's records, and syncs them if `sync`.
    pub(super) fn journal_group(&mut self, records: &[u8], sync: bool) -> Result<(), StoreError> {
        let Some(journal) = self.journal.as_mut() else {
            return Ok(());
        };
        journal.append(records, sync)?;
        if sync {
            journal.sync()?;
            self.journal_sync_by = None;
        } else if let Some(syncer) = &self.syncer
            && let Some(range) = journal.write_back_due()
        {
            syncer.write_back(range);
        }
        Ok(())
    }
}

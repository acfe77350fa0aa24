//! Open data for third-party evaluators (§3 of the city's opinions): bulk, incremental
//! pulls of what the public disclosure shows ([`probity_views::open_data`] decides what
//! changed and how each line reads).
//!
//! A pull is an evaluator's: every other role is refused. It is recorded FIRST, as an
//! `OpenDataRead` in the access log of the data set (`open_data-<dataset>`), with the
//! cursor it started after; then its own cursor is fixed, and the lines are read in
//! pages of [`PAGE`] rows while the adapter writes them out, so a pull of any size holds
//! one page in memory.

use std::sync::Arc;

use futures::Stream;
use probity_domain::access::AccessCommand;
use probity_views::open_data::{OpenDataCursor, RecordChange};
use probity_views::Views;

use crate::error::{AppError, AppResult};
use crate::tokens::Role;
use crate::{App, CommandContext};

/// The `case_type` under which bulk reads are kept in the access log.
pub const OPEN_DATA: &str = "open_data";

/// The data set of published dishonesty records.
pub const RECORDS: &str = "records";

/// Rows read per page while a pull is written out.
pub const PAGE: u32 = 500;

/// A pull the access log has recorded: where it starts and the cursor it hands out.
#[derive(Debug, Clone, Copy)]
pub struct Pull {
    /// The cursor the pull started after (`None`: the whole data set).
    pub since: Option<OpenDataCursor>,
    /// The cursor for the next pull.
    pub until: OpenDataCursor,
}

impl App {
    /// Starts a pull of the open data set `dataset` after cursor `since` (parsed by the
    /// adapter) for an evaluator: the read is recorded in the access log (with `purpose`)
    /// before anything is read.
    #[tracing::instrument(name = "open_data_pull", skip_all, fields(dataset = %dataset, actor = %ctx.caller.token_id))]
    pub async fn open_data_pull(
        &self,
        ctx: CommandContext<'_>,
        dataset: &str,
        since: Option<OpenDataCursor>,
        purpose: String,
    ) -> AppResult<Pull> {
        ctx.caller.require(&[Role::Evaluator])?;
        if dataset != RECORDS {
            return Err(AppError::NotFound(format!("no open data set {dataset:?}")));
        }
        let read = AccessCommand::RecordOpenDataRead {
            dataset: dataset.to_string(),
            since: since.map(|c| c.to_string()),
            actor: ctx.caller.token_id.clone(),
            role: ctx.caller.role.as_str().to_string(),
            purpose,
            at: self.clock.now(),
        };
        self.record_access(ctx, OPEN_DATA, dataset, read).await?;
        let until = self
            .views
            .open_data_cursor(since, self.clock.today())
            .await?;
        Ok(Pull { since, until })
    }
}

/// The lines of a records pull, read page by page as they are consumed.
pub fn record_lines(
    views: Arc<Views>,
    pull: Pull,
) -> impl Stream<Item = AppResult<RecordChange>> + Send + 'static {
    struct State {
        views: Arc<Views>,
        pull: Pull,
        after: String,
        page: std::vec::IntoIter<RecordChange>,
        done: bool,
    }
    let start = State {
        views,
        pull,
        after: String::new(),
        page: Vec::new().into_iter(),
        done: false,
    };
    futures::stream::unfold(start, |mut s| async move {
        loop {
            if let Some(line) = s.page.next() {
                return Some((Ok(line), s));
            }
            if s.done {
                return None;
            }
            match s
                .views
                .open_data_records(s.pull.since, s.pull.until, &s.after, PAGE)
                .await
            {
                Ok(page) => {
                    s.done = page.len() < PAGE as usize;
                    if let Some(last) = page.last() {
                        s.after = last.id().to_string();
                    }
                    s.page = page.into_iter();
                }
                Err(e) => {
                    s.done = true;
                    return Some((Err(AppError::from(e)), s));
                }
            }
        }
    })
}

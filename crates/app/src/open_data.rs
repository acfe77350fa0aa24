//! Open data for third-party evaluators (§3 of the city's opinions): bulk, incremental
//! pulls of what the public disclosure shows ([`probity_views::open_data`] decides what
//! changed and how each line reads) and of the public assessment rows
//! ([`probity_views::open_data_assessments`]).
//!
//! A pull is an evaluator's: every other role is refused. It is recorded FIRST, as an
//! `OpenDataRead` in the access log of the data set (`open_data-<dataset>`), with the
//! cursor it started after; then its own cursor is fixed, and the lines are read in
//! pages of [`PAGE`] rows while the adapter writes them out, so a pull of any size holds
//! one page in memory.

use std::sync::Arc;

use futures::Stream;
use probity_domain::access::AccessCommand;
use probity_domain::assessment::AssessmentFormula;
use probity_views::open_data::{
    CommitmentLine, OpenDataCursor, RecordChange, COMMITMENT_FEED_TYPES, RECORD_FEED_TYPES,
};
use probity_views::open_data_assessments::{AssessmentCursor, AssessmentLine, PeriodScope};
use probity_views::{ViewError, Views};

use crate::error::{AppError, AppResult};
use crate::tokens::Role;
use crate::{App, CommandContext};

/// The `case_type` under which bulk reads are kept in the access log.
pub const OPEN_DATA: &str = "open_data";

/// The data set of published dishonesty records.
pub const RECORDS: &str = "records";

/// The data set of published commitments (township public commitments and investment
/// promises with their fulfilment).
pub const COMMITMENTS: &str = "commitments";

/// The data set of public assessment rows (scores, ranks, headline counts per period).
pub const ASSESSMENTS: &str = "assessments";

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
        let feed_types: &[&str] = match dataset {
            RECORDS => &RECORD_FEED_TYPES,
            COMMITMENTS => &COMMITMENT_FEED_TYPES,
            _ => return Err(AppError::NotFound(format!("no open data set {dataset:?}"))),
        };
        self.record_open_data_read(ctx, dataset, since.map(|c| c.to_string()), purpose)
            .await?;
        let until = self
            .views
            .open_data_cursor(since, self.clock.today(), feed_types)
            .await?;
        Ok(Pull { since, until })
    }

    /// Starts a pull of the public assessment rows of `scope` after cursor `since` (of
    /// the same periods) for an evaluator: the read is recorded in the access log first,
    /// then the periods are evaluated today with `formula` and the changed rows kept
    /// ([`probity_views::Views::refresh_open_data_assessments`]).
    #[tracing::instrument(name = "open_data_assessments_pull", skip_all, fields(actor = %ctx.caller.token_id))]
    pub async fn open_data_assessments_pull(
        &self,
        ctx: CommandContext<'_>,
        scope: PeriodScope,
        since: Option<AssessmentCursor>,
        formula: &AssessmentFormula,
        purpose: String,
    ) -> AppResult<AssessmentPull> {
        ctx.caller.require(&[Role::Evaluator])?;
        self.record_open_data_read(
            ctx,
            ASSESSMENTS,
            since.as_ref().map(|c| c.to_string()),
            purpose,
        )
        .await?;
        let until = self
            .views
            .refresh_open_data_assessments(&scope, self.clock.today(), formula)
            .await?;
        Ok(AssessmentPull {
            since: since.map(|c| c.seq),
            until,
        })
    }

    /// Records a bulk read of `dataset` (after cursor `since`) in the access log.
    async fn record_open_data_read(
        &self,
        ctx: CommandContext<'_>,
        dataset: &str,
        since: Option<String>,
        purpose: String,
    ) -> AppResult<()> {
        let read = AccessCommand::RecordOpenDataRead {
            dataset: dataset.to_string(),
            since,
            actor: ctx.caller.token_id.clone(),
            role: ctx.caller.role.as_str().to_string(),
            purpose,
            at: self.clock.now(),
        };
        self.record_access(ctx, OPEN_DATA, dataset, read).await?;
        Ok(())
    }
}

/// A pull of the assessments feed the access log has recorded.
#[derive(Debug, Clone)]
pub struct AssessmentPull {
    /// The change number the pull started after (`None`: every row).
    pub since: Option<i64>,
    /// The cursor for the next pull (its periods are the pull's).
    pub until: AssessmentCursor,
}

/// The lines of an assessments pull, read page by page as they are consumed.
pub fn assessment_lines(
    views: Arc<Views>,
    pull: AssessmentPull,
) -> impl Stream<Item = AppResult<AssessmentLine>> + Send + 'static {
    paged(
        views,
        pull,
        AssessmentLine::key,
        |views, pull, after| async move {
            views
                .open_data_assessments(&pull.until.scope, pull.since, &after, PAGE)
                .await
        },
    )
}

/// The lines of a records pull, read page by page as they are consumed.
pub fn record_lines(
    views: Arc<Views>,
    pull: Pull,
) -> impl Stream<Item = AppResult<RecordChange>> + Send + 'static {
    paged(
        views,
        pull,
        |c: &RecordChange| c.id().to_string(),
        |views, pull, after| async move {
            views
                .open_data_records(pull.since, pull.until, &after, PAGE)
                .await
        },
    )
}

/// The lines of a commitments pull, read page by page as they are consumed.
pub fn commitment_lines(
    views: Arc<Views>,
    pull: Pull,
) -> impl Stream<Item = AppResult<CommitmentLine>> + Send + 'static {
    paged(
        views,
        pull,
        |c: &CommitmentLine| c.id().to_string(),
        |views, pull, after| async move {
            views
                .open_data_commitments(pull.since, pull.until, &after, PAGE)
                .await
        },
    )
}

/// The lines of a pull, read [`PAGE`] at a time by `fetch` (the lines after a key, in key
/// order; `key` gives a line's) as they are consumed.
fn paged<T, P, F, Fut>(
    views: Arc<Views>,
    pull: P,
    key: fn(&T) -> String,
    fetch: F,
) -> impl Stream<Item = AppResult<T>> + Send + 'static
where
    T: Send + 'static,
    P: Clone + Send + 'static,
    F: Fn(Arc<Views>, P, String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Vec<T>, ViewError>> + Send,
{
    struct State<T, P, F> {
        views: Arc<Views>,
        pull: P,
        after: String,
        page: std::vec::IntoIter<T>,
        done: bool,
        fetch: F,
    }
    let start = State {
        views,
        pull,
        after: String::new(),
        page: Vec::new().into_iter(),
        done: false,
        fetch,
    };
    futures::stream::unfold(start, move |mut s| async move {
        loop {
            if let Some(line) = s.page.next() {
                return Some((Ok(line), s));
            }
            if s.done {
                return None;
            }
            match (s.fetch)(s.views.clone(), s.pull.clone(), s.after.clone()).await {
                Ok(page) => {
                    s.done = page.len() < PAGE as usize;
                    if let Some(last) = page.last() {
                        s.after = key(last);
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

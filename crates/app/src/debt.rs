//! Debt risk warnings (§13 of the city's opinions; issue 11 item 5, ADR 0028).
//!
//! A sweep re-evaluates every government with a debt record or a raised warning on the
//! server's day ([`App::sweep_debt_warnings`], run by the server every deadline tick):
//! the facts come from the read models (its debt records and their rectifications),
//! the rule is the domain's ([`probity_domain::debt_warning::reasons`]), and the warning
//! aggregate is raised when a reason holds and it is not raised, cleared when none holds
//! and it is raised. So a new debt record, a rectification becoming overdue or verified,
//! a withdrawal, and a clock move (a record leaving the 12-month window) all reach the
//! warning within a tick of their projection, and a restart on a later clock clears or
//! raises at its first tick.
//!
//! With several servers on one store the sweep runs once per tick across them
//! ([`App::sweep_debt_warnings_once`]): the server that takes the store lease
//! [`SWEEP_LEASE`] for the tick sweeps, the others skip that tick. The lease is never
//! given back early: it runs out by itself, so a server that dies while sweeping (or
//! after) leaves it to another server's next tick, and nothing is lost (each sweep
//! re-evaluates every government from the read models).

use std::time::Duration;

use probity_domain::debt_warning::{
    reasons, DebtWarningCommand, DebtWarningError, DebtWarningStatus,
};
use probity_domain::CreditCode;
use probity_store::ExecuteError;
use probity_views::integrity::DebtWarningItem;

use crate::error::{AppError, AppResult};
use crate::integrity::{bound_supervisor, load};
use crate::tokens::{Caller, Role};
use crate::App;

/// The actor of the sweep's commands (event metadata).
pub const ACTOR: &str = "debt-warning-sweep";

/// The store lease (`store_leases`) that makes one server sweep per tick.
pub const SWEEP_LEASE: &str = "debt-warning-sweep";

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DebtSweep {
    /// Governments evaluated.
    pub evaluated: usize,
    /// Warnings raised.
    pub raised: usize,
    /// Warnings cleared.
    pub cleared: usize,
}

/// What an evaluation did to a government's warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebtOutcome {
    /// Raised now.
    Raised,
    /// Cleared now.
    Cleared,
    /// Left as it was.
    Unchanged,
}

impl App {
    /// Re-evaluates one government's debt warning on the server's day and raises or
    /// clears it. A concurrent evaluation that did the same first is not an error.
    #[tracing::instrument(name = "debt_warning_evaluate", skip(self))]
    pub async fn evaluate_debt_warning(&self, subject_code: &str) -> AppResult<DebtOutcome> {
        let Ok(code) = CreditCode::parse(subject_code) else {
            return Ok(DebtOutcome::Unchanged);
        };
        let today = self.clock.today();
        let (records, rectifications) = self.views.debt_facts(subject_code).await?;
        let why = reasons(
            &self.integrity.policy.debt_warning,
            today,
            &records,
            &rectifications,
        );
        let executor = &self.integrity.debt_warnings;
        let (warning, _) = load(executor, subject_code).await?;
        let raised = warning.status == DebtWarningStatus::Raised;
        let (command, outcome) = match (raised, why.is_empty()) {
            (false, false) => (
                DebtWarningCommand::RaiseDebtWarning {
                    subject_code: code,
                    reasons: why,
                    on: today,
                    at: self.clock.now(),
                },
                DebtOutcome::Raised,
            ),
            (true, true) => (
                DebtWarningCommand::ClearDebtWarning {
                    on: today,
                    at: self.clock.now(),
                },
                DebtOutcome::Cleared,
            ),
            _ => return Ok(DebtOutcome::Unchanged),
        };
        let metadata = crate::system_metadata(ACTOR, "system");
        let result = executor
            .execute(subject_code, command, None, metadata)
            .await;
        match result {
            Ok(_) => Ok(outcome),
            Err(ExecuteError::Domain(
                DebtWarningError::AlreadyRaised | DebtWarningError::NotRaised,
            ))
            | Err(ExecuteError::VersionConflict { .. }) => Ok(DebtOutcome::Unchanged),
            Err(e) => Err(e.into()),
        }
    }

    /// Re-evaluates every government with a debt record or a raised warning.
    #[tracing::instrument(name = "debt_warning_sweep", skip(self))]
    pub async fn sweep_debt_warnings(&self) -> AppResult<DebtSweep> {
        let mut sweep = DebtSweep::default();
        for code in self.views.debt_subjects().await? {
            sweep.evaluated += 1;
            match self.evaluate_debt_warning(&code).await? {
                DebtOutcome::Raised => sweep.raised += 1,
                DebtOutcome::Cleared => sweep.cleared += 1,
                DebtOutcome::Unchanged => {}
            }
        }
        Ok(sweep)
    }

    /// Sweeps ([`App::sweep_debt_warnings`]) when this server takes the store lease
    /// [`SWEEP_LEASE`] for `period` (the deadline tick), `None` when another server holds
    /// it (it swept within the period). The lease is left to run out, never released:
    /// the other servers skip until the period ends, and if this server dies the next
    /// server to tick after it ran out sweeps.
    #[tracing::instrument(name = "debt_warning_sweep_once", skip(self))]
    pub async fn sweep_debt_warnings_once(
        &self,
        period: std::time::Duration,
    ) -> AppResult<Option<DebtSweep>> {
        // A little under the period, so this server's own next tick finds it run out.
        let length = period.mul_f64(0.9);
        match probity_store::Lease::acquire(&self.db, SWEEP_LEASE, length, Duration::ZERO).await? {
            Some(_lease) => Ok(Some(self.sweep_debt_warnings().await?)),
            None => Ok(None),
        }
    }

    /// The debt warnings a supervisor or an auditor reads (`status`: `raised`,
    /// `cleared`, or every one): a bound supervisor sees only the governments within its
    /// authority (ADR 0015).
    #[tracing::instrument(name = "debt_warning_list", skip(self, caller))]
    pub async fn debt_warnings(
        &self,
        caller: &Caller,
        status: Option<&str>,
    ) -> AppResult<Vec<DebtWarningItem>> {
        if !matches!(caller.role, Role::Supervisor | Role::Auditor) {
            return Err(AppError::Forbidden(
                "debt warnings are read by supervisors and auditors".into(),
            ));
        }
        let items = self.views.debt_warnings(status).await?;
        let Some(authority) = bound_supervisor(caller) else {
            return Ok(items);
        };
        let mut within = Vec::with_capacity(items.len());
        for item in items {
            if self
                .is_within(authority, &item.warning.subject_code)
                .await?
            {
                within.push(item);
            }
        }
        Ok(within)
    }
}

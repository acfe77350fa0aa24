//! Batched projection against real databases (SQLite and Postgres): a whole batch
//! redelivered, a batch split across a crash, a failed batch, two projectors consuming
//! overlapping batches at once, events out of order, copies and holes inside a batch.
//! Every resulting state is compared with a rebuild from zero (`dump`).

mod helpers;

use helpers::{at, spawn, Kind, TestApp, UNIT_A, UNIT_B};
use probity_domain::complaint::{Category, ComplaintCommand};
use probity_store::{Applied, Projector, StoredEvent};
use probity_views::{dump, rebuild, ComplaintProjector, IntegrityProjector};
use serde_json::Value;

on_both_backends!(
    a_redelivered_batch_has_no_second_effect,
    a_batch_split_across_a_crash_is_applied_once,
    a_failed_batch_changes_nothing,
    two_projectors_consuming_overlapping_batches_apply_each_event_once,
    a_batch_out_of_order_with_a_hole_applies_up_to_the_hole,
);

/// Several complaints at different stages, their events interleaved in the log.
async fn populate(app: &TestApp) -> anyhow::Result<()> {
    for i in 0..6u32 {
        let id = format!("b-{i}");
        let unit = if i % 2 == 0 { UNIT_A } else { UNIT_B };
        app.dispatched(&id, Category::Complaint, unit, at(3, 2, i), at(3, 2, 6 + i))
            .await?;
    }
    for i in 0..6u32 {
        let id = format!("b-{i}");
        let unit = if i % 2 == 0 { UNIT_A } else { UNIT_B };
        if i >= 2 {
            app.sign(&id, unit, at(3, 3, i)).await?;
        }
        if i >= 4 {
            app.run(
                &id,
                ComplaintCommand::ReplyToComplaint {
                    unit: helpers::unit(unit),
                    content: "done".into(),
                    at: at(3, 5, 1),
                },
            )
            .await?;
        }
    }
    app.file("b-declined", Category::Help, true, at(3, 2, 3))
        .await?;
    app.run(
        "b-declined",
        ComplaintCommand::DeclineComplaint {
            reason: "spam".into(),
            at: at(3, 2, 4),
        },
    )
    .await?;
    Ok(())
}

/// The state a rebuild from zero arrives at, restoring nothing: call it last, or
/// compare before going on.
async fn rebuilt(app: &TestApp) -> anyhow::Result<Value> {
    rebuild(&app.log, &app.db, &|_, _| {}).await?;
    Ok(dump(&app.db).await?)
}

fn count(outcomes: &[Applied], which: Applied) -> usize {
    outcomes.iter().filter(|o| **o == which).count()
}

async fn a_redelivered_batch_has_no_second_effect(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    populate(&app).await?;
    let events = app.all_events().await?;
    let outcomes = app.projector.handle_batch(&events).await?;
    assert_eq!(outcomes, vec![Applied::Applied; events.len()]);
    let once = dump(&app.db).await?;

    // The whole batch again, then again reversed: nothing changes.
    let again = app.projector.handle_batch(&events).await?;
    assert_eq!(again, vec![Applied::AlreadyApplied; events.len()]);
    let mut reversed = events.clone();
    reversed.reverse();
    let again = app.projector.handle_batch(&reversed).await?;
    assert_eq!(again, vec![Applied::AlreadyApplied; events.len()]);
    assert_eq!(dump(&app.db).await?, once);

    // Another projector's events in the batch are answered without effect.
    let integrity = IntegrityProjector::new(app.db.clone());
    let theirs = integrity.handle_batch(&events).await?;
    assert_eq!(theirs, vec![Applied::AlreadyApplied; events.len()]);
    assert_eq!(dump(&app.db).await?, once);

    assert_eq!(rebuilt(&app).await?, once);
    Ok(())
}

async fn a_batch_split_across_a_crash_is_applied_once(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    populate(&app).await?;
    let events = app.all_events().await?;
    // A first transaction committed part of the batch (its acks were lost in the
    // crash), then the whole batch comes again.
    let split = events.len() / 2 + 1;
    let first = app.projector.handle_batch(&events[..split]).await?;
    assert_eq!(first, vec![Applied::Applied; split]);
    let whole = app.projector.handle_batch(&events).await?;
    assert_eq!(count(&whole, Applied::AlreadyApplied), split);
    assert_eq!(count(&whole, Applied::Applied), events.len() - split);
    assert!(whole[..split].iter().all(|o| *o == Applied::AlreadyApplied));
    let state = dump(&app.db).await?;

    // The same split the other way round: the second half alone is mostly gaps (each
    // complaint's earlier events are missing), the whole batch then applies the rest.
    let other = spawn(kind).await?;
    populate(&other).await?;
    let events = other.all_events().await?;
    let tail = other.projector.handle_batch(&events[split..]).await?;
    assert!(tail.contains(&Applied::Gap));
    let whole = other.projector.handle_batch(&events).await?;
    let applied = count(&tail, Applied::Applied) + count(&whole, Applied::Applied);
    assert_eq!(applied, events.len(), "every event applied exactly once");
    assert_eq!(count(&whole, Applied::Gap), 0);
    assert_eq!(dump(&other.db).await?, rebuilt(&other).await?);

    assert_eq!(rebuilt(&app).await?, state);
    Ok(())
}

async fn a_failed_batch_changes_nothing(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    populate(&app).await?;
    let events = app.all_events().await?;
    let split = events.len() / 3;
    app.projector.handle_batch(&events[..split]).await?;
    let before = dump(&app.db).await?;

    // One undecodable event fails the whole transaction: no view, no deadline and no
    // position of the batch moved, not even those of other complaints.
    let mut poisoned: Vec<StoredEvent> = events.clone();
    let last = poisoned.len() - 1;
    poisoned[last].payload = serde_json::json!({ "NoSuchEvent": {} });
    assert!(app.projector.handle_batch(&poisoned).await.is_err());
    assert_eq!(dump(&app.db).await?, before);

    // The batch redelivered without the poison applies, once.
    let outcomes = app.projector.handle_batch(&events).await?;
    assert_eq!(count(&outcomes, Applied::Applied), events.len() - split);
    assert_eq!(count(&outcomes, Applied::AlreadyApplied), split);
    let state = dump(&app.db).await?;
    assert_eq!(rebuilt(&app).await?, state);
    Ok(())
}

async fn two_projectors_consuming_overlapping_batches_apply_each_event_once(
    kind: Kind,
) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    populate(&app).await?;
    let events = app.all_events().await?;
    let other = ComplaintProjector::new(app.reopen.open().await?);
    let mut tasks = Vec::new();
    // Both get every event, in batches of different sizes, one front to back, the
    // other back to front; each offers its gaps again until none is left.
    for (projector, size, backwards) in [(app.projector.clone(), 7, false), (other, 5, true)] {
        let mut batches: Vec<Vec<StoredEvent>> = events.chunks(size).map(<[_]>::to_vec).collect();
        if backwards {
            batches.reverse();
        }
        tasks.push(tokio::spawn(async move {
            let mut applied = 0usize;
            let mut waiting: Vec<StoredEvent> = Vec::new();
            for batch in batches {
                waiting.extend(batch);
                let outcomes = projector.handle_batch(&waiting).await?;
                applied += count(&outcomes, Applied::Applied);
                waiting = waiting
                    .into_iter()
                    .zip(outcomes)
                    .filter(|(_, o)| *o == Applied::Gap)
                    .map(|(e, _)| e)
                    .collect();
            }
            let mut rounds = 0;
            while !waiting.is_empty() {
                rounds += 1;
                assert!(rounds < 10_000, "gaps never filled");
                tokio::task::yield_now().await;
                let outcomes = projector.handle_batch(&waiting).await?;
                applied += count(&outcomes, Applied::Applied);
                waiting = waiting
                    .into_iter()
                    .zip(outcomes)
                    .filter(|(_, o)| *o == Applied::Gap)
                    .map(|(e, _)| e)
                    .collect();
            }
            Ok::<_, probity_store::StoreError>(applied)
        }));
    }
    let mut applied = 0;
    for task in tasks {
        applied += task.await??;
    }
    assert_eq!(applied, events.len(), "every event applied exactly once");
    let concurrent = dump(&app.db).await?;
    assert_eq!(rebuilt(&app).await?, concurrent);
    Ok(())
}

async fn a_batch_out_of_order_with_a_hole_applies_up_to_the_hole(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    app.dispatched("h-1", Category::Help, UNIT_A, at(3, 2, 1), at(3, 2, 2))
        .await?;
    app.sign("h-1", UNIT_A, at(3, 3, 1)).await?;
    app.run(
        "h-1",
        ComplaintCommand::ReplyToComplaint {
            unit: helpers::unit(UNIT_A),
            content: "done".into(),
            at: at(3, 5, 1),
        },
    )
    .await?;
    let e = app.events_of("h-1").await?;
    assert_eq!(e.len(), 5);

    // 3, 1, copy of 1, 5, 2 (4 missing): 1..3 applied, the copy already applied, 5 a gap.
    let batch = vec![
        e[2].clone(),
        e[0].clone(),
        e[0].clone(),
        e[4].clone(),
        e[1].clone(),
    ];
    let outcomes = app.projector.handle_batch(&batch).await?;
    use Applied::{AlreadyApplied as Done, Applied as New, Gap};
    assert_eq!(outcomes, vec![New, New, Done, Gap, New]);
    let view = probity_views::Views::new(app.db.clone())
        .complaint("h-1", helpers::date(3, 2))
        .await?
        .expect("view");
    assert_eq!((view.version, view.status.as_str()), (3, "dispatched"));

    // Copies of a gap are all gaps; the hole filled, the rest follows.
    assert_eq!(
        app.projector
            .handle_batch(&[e[4].clone(), e[4].clone()])
            .await?,
        vec![Gap, Gap]
    );
    assert_eq!(
        app.projector
            .handle_batch(&[e[4].clone(), e[3].clone(), e[2].clone()])
            .await?,
        vec![New, New, Done]
    );
    let state = dump(&app.db).await?;
    assert_eq!(rebuilt(&app).await?, state);
    Ok(())
}

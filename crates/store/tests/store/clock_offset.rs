//! A process on a shifted clock (`PROBITY_CLOCK_OFFSET`) marks every event it records
//! with the offset; a process on the real clock marks none (issue 10, item 12).
use probity_store::{EventLog, CLOCK_OFFSET};

use crate::helpers::{self, executor, metadata, read_command};

#[tokio::test]
async fn events_recorded_on_a_shifted_clock_carry_the_offset_in_their_metadata() {
    for t in helpers::both().await {
        // Another process on the same database, its clock 30 days ahead.
        let drill = t.another_process().await;
        drill.set_clock_offset(chrono::Duration::days(30));
        executor(&t.db)
            .execute("c-1", read_command("real"), None, metadata("real"))
            .await
            .unwrap();
        executor(&drill)
            .execute("c-1", read_command("drill"), None, metadata("drill"))
            .await
            .unwrap();
        let events = EventLog::new(t.db.clone())
            .read_aggregate("access_log", "c-1", None)
            .await
            .unwrap();
        assert_eq!(events.len(), 2, "{}", t.name);
        assert_eq!(events[0].metadata.get(CLOCK_OFFSET), None, "{}", t.name);
        assert_eq!(events[1].metadata[CLOCK_OFFSET], "+30d", "{}", t.name);
        // The command's own metadata is kept beside it.
        assert_eq!(events[1].metadata["actor"], "drill", "{}", t.name);
        // Back on the real clock, nothing is added any more.
        drill.set_clock_offset(chrono::Duration::zero());
        assert_eq!(drill.clock_offset(), None, "{}", t.name);
    }
}

#[test]
fn an_offset_is_labelled_in_the_largest_exact_unit() {
    use chrono::Duration;
    use probity_store::clock_offset_label;
    assert_eq!(clock_offset_label(Duration::days(30)), "+30d");
    assert_eq!(clock_offset_label(Duration::hours(-12)), "-12h");
    assert_eq!(clock_offset_label(Duration::minutes(90)), "+90m");
    assert_eq!(clock_offset_label(Duration::seconds(-61)), "-61s");
    assert_eq!(
        clock_offset_label(Duration::milliseconds(-23_587_201_123)),
        "-23587201.123s"
    );
}

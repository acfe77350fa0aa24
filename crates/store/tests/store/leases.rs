//! Leases held in the store: exclusive across two handles on one database (as two
//! server processes), given back, and taken over once run out. Both backends.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use probity_store::Lease;

use crate::helpers;

const LONG: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lease_is_not_taken_by_another_process_until_given_back() {
    for t in helpers::both().await {
        let other = t.another_process().await;
        let first = Lease::acquire(&t.db, "merges", LONG, Duration::ZERO)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{}: a free lease is taken", t.name));
        let second = Lease::acquire(&other, "merges", LONG, Duration::from_millis(50))
            .await
            .unwrap();
        assert!(second.is_none(), "{}: a held lease is refused", t.name);
        let elsewhere = Lease::acquire(&other, "other", LONG, Duration::ZERO)
            .await
            .unwrap();
        assert!(elsewhere.is_some(), "{}: another name", t.name);
        assert!(first.release().await.unwrap());
        let again = Lease::acquire(&other, "merges", LONG, Duration::ZERO)
            .await
            .unwrap();
        assert!(again.is_some(), "{}: a given-back lease is taken", t.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_that_ran_out_is_taken_over_and_its_holder_told() {
    for t in helpers::both().await {
        let first = Lease::acquire(&t.db, "merges", Duration::from_millis(1), Duration::ZERO)
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let other = t.another_process().await;
        let second = Lease::acquire(&other, "merges", LONG, Duration::ZERO)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{}: a lease that ran out is taken over", t.name));
        assert!(!first.release().await.unwrap(), "{}: lost it", t.name);
        assert!(second.release().await.unwrap());
    }
}

/// Twenty holders on two processes: never two inside at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn holders_on_two_processes_never_overlap() {
    for t in helpers::both().await {
        let dbs = [t.db.clone(), t.another_process().await];
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..20 {
            let db = dbs[i % 2].clone();
            let (inside, most) = (inside.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                let lease = Lease::acquire(&db, "merges", LONG, Duration::from_secs(20))
                    .await
                    .unwrap()
                    .expect("taken within the wait");
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
                assert!(lease.release().await.unwrap());
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "{}", t.name);
    }
}

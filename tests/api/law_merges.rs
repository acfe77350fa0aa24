//! Merges never close a circle, even across servers (issue 10, item 2; ADR 0020): two
//! servers on one store merge A into B on one and B into A on the other at the same
//! moment, and three cases in a triangle; in each group exactly the merges that keep the
//! graph a forest pass, the rest are refused `merge_target_not_open`.

use std::collections::HashMap;

use probity_tests::{spawn_app, start_on, Mode, TestApp};
use serde_json::json;

crate::both_modes!(opposite_merges_on_two_servers_never_both_pass);

async fn merge(app: &TestApp, id: &str, into: &str) -> u16 {
    let r = app
        .post(
            &format!("/api/v1/complaints/{id}/merge"),
            &app.intake,
            &json!({ "into": into }),
        )
        .await;
    let status = r.status.as_u16();
    if status != 200 {
        r.assert_problem(409, "merge_target_not_open");
    }
    status
}

async fn opposite_merges_on_two_servers_never_both_pass(mode: Mode) {
    let a = spawn_app(mode).await;
    let b = start_on(a.backing.clone(), None, a.clock_offset).await;
    let mut cases = Vec::new();
    for _ in 0..18 {
        cases.push(a.file("complaint").await);
    }

    // Six pairs, each merged both ways at once from the two servers.
    let pairs: Vec<(&str, &str)> = (0..6)
        .map(|i| (cases[2 * i].as_str(), cases[2 * i + 1].as_str()))
        .collect();
    let results = futures::future::join_all(pairs.iter().map(|(x, y)| async {
        let (one, other) = tokio::join!(merge(&a, x, y), merge(&b, y, x));
        (one, other)
    }))
    .await;
    for (pair, (one, other)) in pairs.iter().zip(&results) {
        let passed = [*one, *other].iter().filter(|s| **s == 200).count();
        assert_eq!(
            passed, 1,
            "{pair:?}: exactly one direction passes ({one}, {other})"
        );
    }

    // Two triangles x→y, y→z, z→x, the three at once over both servers: one is refused.
    for t in 0..2 {
        let [x, y, z] = [&cases[12 + 3 * t], &cases[13 + 3 * t], &cases[14 + 3 * t]];
        let (p, q, r) = tokio::join!(merge(&a, x, y), merge(&b, y, z), merge(&a, z, x));
        let passed = [p, q, r].iter().filter(|s| **s == 200).count();
        assert_eq!(passed, 2, "triangle {t}: ({p}, {q}, {r})");
    }

    // Following `merged_into` from any case ends at an open case: no circle anywhere.
    let mut into: HashMap<String, String> = HashMap::new();
    for id in &cases {
        let v = a
            .get(&format!("/api/v1/complaints/{id}"), &a.supervisor)
            .await;
        if let Some(target) = v.assert_ok()["merged_into"].as_str() {
            into.insert(id.clone(), target.to_string());
        }
    }
    assert_eq!(into.len(), 6 + 2 * 2);
    for start in &cases {
        let mut at = start;
        for _ in 0..=cases.len() {
            match into.get(at) {
                Some(next) => at = next,
                None => break,
            }
        }
        assert!(!into.contains_key(at), "a circle through {start}: {into:?}");
    }
    b.app.stop().await;
    a.app.stop().await;
}

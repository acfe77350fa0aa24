//! Migration 0070 (issue 10, item 10): tokens stored before expiry existed keep working
//! for a grace period, ending 90 days after the migration ran, not 90 days after their
//! creation (which could have ended them at the upgrade).
use std::borrow::Cow;

use chrono::{DateTime, Duration, Utc};
use probity_store::Db;
use sqlx::migrate::Migrator;

use crate::helpers::TempDir;

/// The migrations before 0070.
fn before_0070(mut migrator: Migrator) -> Migrator {
    migrator.migrations = Cow::Owned(
        migrator
            .migrations
            .iter()
            .filter(|m| m.version < 70)
            .cloned()
            .collect(),
    );
    migrator
}

const OLD_TOKEN: &str = "INSERT INTO api_tokens (id, token_hash, role, unit, label, created_at) \
     VALUES ('old', 'hash', 'admin', NULL, 'made in 2024', '2024-01-01T00:00:00.000000Z')";

async fn expires_at(db: &Db) -> DateTime<Utc> {
    let (text,): (Option<String>,) =
        sqlx::query_as("SELECT expires_at FROM api_tokens WHERE id = 'old'")
            .fetch_one(&db.any)
            .await
            .expect("the old token");
    DateTime::parse_from_rfc3339(&text.expect("an expiry"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

fn assert_grace_period(name: &str, expires: DateTime<Utc>, migrated_at: DateTime<Utc>) {
    let grace = expires - migrated_at;
    assert!(
        grace > Duration::days(90) - Duration::minutes(5)
            && grace < Duration::days(90) + Duration::minutes(5),
        "{name}: expires {expires}, migrated {migrated_at}"
    );
}

#[tokio::test]
async fn tokens_made_before_expiry_existed_expire_90_days_after_the_upgrade() {
    // Postgres.
    let url = probity_testkit::pg::fresh_database()
        .await
        .expect("fresh Postgres database");
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    before_0070(sqlx::migrate!("./migrations/postgres"))
        .run(&pool)
        .await
        .expect("migrations before 0070");
    sqlx::query(OLD_TOKEN)
        .execute(&pool)
        .await
        .expect("old token");
    pool.close().await;
    let migrated_at = Utc::now();
    let db = Db::connect_postgres(&url).await.expect("the upgrade");
    assert_grace_period("postgres", expires_at(&db).await, migrated_at);

    // SQLite.
    let dir = TempDir::new();
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.0.join(probity_store::db::SQLITE_FILE))
            .create_if_missing(true),
    )
    .await
    .expect("open SQLite");
    before_0070(sqlx::migrate!("./migrations/sqlite"))
        .run(&pool)
        .await
        .expect("migrations before 0070");
    sqlx::query(OLD_TOKEN)
        .execute(&pool)
        .await
        .expect("old token");
    pool.close().await;
    let migrated_at = Utc::now();
    let db = Db::open_sqlite(&dir.0).await.expect("the upgrade");
    assert_grace_period("sqlite", expires_at(&db).await, migrated_at);
}

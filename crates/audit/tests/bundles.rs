//! Verifiable exports: a bundle of one aggregate verifies offline (no database), and a
//! changed byte anywhere in it fails verification.

mod common;

use common::{spawn, Kind};
use probity_audit::{export_bundle, verify_bundle, verify_bundle_with_key, AuditError, SigningKey};

on_both_backends!(
    a_bundle_verifies_with_no_database_and_any_changed_byte_fails,
    a_bundle_covers_only_what_the_checkpoint_signed,
);

async fn a_bundle_verifies_with_no_database_and_any_changed_byte_fails(
    kind: Kind,
) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    app.some_events().await?;
    app.seal_and_sign().await?;
    let bundle = export_bundle(&app.db, "complaint", "c-2").await?;
    let bytes = bundle.to_bytes()?;
    assert_eq!(bundle.events.len(), 2);
    // No database from here on.
    app.db.close().await;

    let report = verify_bundle(&bytes)?;
    assert_eq!(
        (
            report.aggregate_type.as_str(),
            report.aggregate_id.as_str(),
            report.events
        ),
        ("complaint", "c-2", 2)
    );
    assert_eq!(
        verify_bundle_with_key(&bytes, Some(&app.signing.verifying_key()))?,
        report
    );
    let other = SigningKey::from_bytes(&[9u8; 32]).verifying_key();
    assert!(matches!(
        verify_bundle_with_key(&bytes, Some(&other)),
        Err(AuditError::Bundle(_))
    ));

    // Flip bytes at offsets spread over the whole file: manifest, events, seals, chain,
    // checkpoint, key and the final newline.
    let mut offsets: Vec<usize> = (0..40).map(|k| k * (bytes.len() - 1) / 39).collect();
    for needle in [
        "\"payload\"",
        "\"signature\"",
        "\"created_at\"",
        "\"chain\"",
        "\"public_key\"",
        "\"recorded_at\"",
    ] {
        let at = find(&bytes, needle.as_bytes()).expect("part present") + needle.len() + 3;
        offsets.push(at);
    }
    for offset in offsets {
        for flip in [0x01u8, 0x20] {
            let mut changed = bytes.clone();
            changed[offset] ^= flip;
            let result = verify_bundle(&changed);
            assert!(
                matches!(result, Err(AuditError::Bundle(_))),
                "byte {offset} ^ {flip:#x} ({:?}) still verifies",
                bytes[offset] as char
            );
        }
    }
    // Truncated and extended files fail too.
    assert!(verify_bundle(&bytes[..bytes.len() - 1]).is_err());
    let mut longer = bytes.clone();
    longer.push(b'\n');
    assert!(verify_bundle(&longer).is_err());
    Ok(())
}

async fn a_bundle_covers_only_what_the_checkpoint_signed(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    assert!(
        export_bundle(&app.db, "complaint", "c-1").await.is_err(),
        "no checkpoint yet"
    );
    app.file("c-1").await?;
    app.seal_and_sign().await?;
    // Events sealed after the checkpoint are not part of the bundle's chain.
    app.reads("auditor-1", 2).await?;
    app.seal().await?;
    let bundle = export_bundle(&app.db, "complaint", "c-1").await?;
    assert_eq!(bundle.events.len(), 2);
    assert_eq!(bundle.chain.len(), 2);
    verify_bundle(&bundle.to_bytes()?)?;
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

//! The credential check of `sky check`.

use std::time::Duration;

use sky_cloud_aws::AwsBuilder;
use sky_core::check::SourceOutcome;

use crate::common::*;

#[tokio::test]
async fn static_credentials_are_verified_with_describe_regions() {
    let ep = moto_or_skip!();
    let report = builder(&ep)
        .credentials("AKIDMOTOEXAMPLE", "moto-secret-value")
        .check()
        .await;
    assert!(report.ok(), "{report}");
    let text = report.to_string();
    assert!(text.contains("DescribeRegions answered"), "{text}");
    assert_eq!(report.sources[0].outcome, SourceOutcome::Found);
    // Every later source is named, and skipped once one was picked.
    assert!(report.sources.len() >= 6, "{text}");
    assert!(
        report.sources[1..]
            .iter()
            .all(|s| s.outcome == SourceOutcome::Skipped),
        "{text}"
    );
    assert!(
        !text.contains("moto-secret-value") && !text.contains("AKIDMOTOEXAMPLE"),
        "no secret in the report: {text}"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_the_check_with_a_reason() {
    // Port 9 on loopback: nothing listens there, the connection is refused at once.
    let report = AwsBuilder::from_env()
        .endpoint("http://127.0.0.1:9")
        .regions(["us-east-1"])
        .credentials("AKIDEXAMPLE", "secret-value")
        .max_attempts(1)
        .operation_timeout(Some(Duration::from_secs(20)))
        .check()
        .await;
    assert!(!report.ok(), "{report}");
    let text = report.to_string();
    assert!(text.contains("not verified"), "{text}");
    assert!(text.contains("DescribeRegions"), "{text}");
    assert!(
        !text.contains("secret-value") && !text.contains("AKIDEXAMPLE"),
        "{text}"
    );
}

//! Roles behind an MFA code, and each profile's identity, against moto's STS (`moto[server]`)
//! and the MWAA test server, through the real SDK.
#![allow(clippy::unwrap_used)]

mod common;

use airgate_discovery::{
    AwsFiles, FailureKind, MfaError, discover_with, mfa_profiles, mfa_sign_in,
};
use airgate_peers::moto::Moto;
use airgate_peers::mwaa::{Operation, SeedEnvironment};
use common::{ACCOUNT_A, options, server};

const SERIAL: &str = "arn:aws:iam::111111111111:mfa/priya";
const ROLE: &str = "arn:aws:iam::444455556666:role/admin";

/// `base` has keys; `admin` assumes a role from them, with an MFA code. MWAA is the test server,
/// STS is moto's.
fn files(dir: &std::path::Path, mwaa: &str, sts: &str) -> AwsFiles {
    let files = AwsFiles {
        config: dir.join("config"),
        credentials: dir.join("credentials"),
    };
    std::fs::write(
        &files.config,
        format!(
            "[profile base]\nregion = eu-west-1\nservices = local\n\n\
             [profile admin]\nrole_arn = {ROLE}\nsource_profile = base\nmfa_serial = {SERIAL}\n\
             role_session_name = priya\nregion = eu-west-1\nservices = local\n\n\
             [profile deploy]\nrole_arn = arn:aws:iam::777788889999:role/deploy\n\
             source_profile = admin\nrole_session_name = priya-deploy\nregion = eu-west-1\n\
             services = local\n\n\
             [profile orphan]\nrole_arn = {ROLE}\nsource_profile = nowhere\n\
             mfa_serial = {SERIAL}\nregion = eu-west-1\nservices = local\n\n\
             [services local]\nmwaa =\n  endpoint_url = {mwaa}\nsts =\n  endpoint_url = {sts}\n"
        ),
    )
    .expect("config");
    std::fs::write(
        &files.credentials,
        "[base]\naws_access_key_id = AKIAA\naws_secret_access_key = s\n",
    )
    .expect("credentials");
    files
}

#[tokio::test]
async fn a_role_behind_mfa_asks_for_the_code_then_lists_with_the_roles_credentials() {
    let server = server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("orders-dev"));
    // The role's account: reached only with the role's (moto's) temporary credentials.
    server.seed(
        "444455556666",
        "eu-west-1",
        SeedEnvironment::new("orders-prod"),
    );
    server.accept_session_keys("444455556666");
    let moto = Moto::start().expect("moto starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let files = files(dir.path(), &server.endpoint(), moto.endpoint());

    // Before any code: the role profile says it needs one, and nothing was asked of STS for it.
    let first = discover_with(&files, &options()).await;
    let admin = first
        .failures
        .iter()
        .find(|f| f.profile == "admin")
        .expect("admin failed");
    assert_eq!(admin.kind, FailureKind::MfaCode, "{admin:?}");
    assert!(admin.message.contains(SERIAL), "{}", admin.message);
    assert_eq!(
        first
            .environments
            .iter()
            .map(|e| (e.profile.as_str(), e.name.as_str()))
            .collect::<Vec<_>>(),
        [("base", "orders-dev")],
        "the other profile still lists, and only its own account"
    );
    assert!(moto.bodies_of("AssumeRole").is_empty());
    // The base profile's identity, from STS.
    let base = first
        .identities
        .iter()
        .find(|i| i.profile == "base")
        .expect("base has an identity");
    assert_eq!(base.account.len(), 12, "{base:?}");
    assert!(base.arn.starts_with("arn:aws:"), "{base:?}");

    // A role assumed from the MFA role needs the same code, and says whose.
    let deploy = first
        .failures
        .iter()
        .find(|f| f.profile == "deploy")
        .expect("deploy failed");
    assert_eq!(deploy.kind, FailureKind::MfaCode, "{deploy:?}");
    assert!(
        deploy.message.contains("for the role of profile admin"),
        "{}",
        deploy.message
    );

    let listed = mfa_profiles(&files).await;
    assert_eq!(
        listed
            .iter()
            .map(|p| (
                p.profile.as_str(),
                p.serial.as_str(),
                p.signed_in,
                p.used_by.clone()
            ))
            .collect::<Vec<_>>(),
        [
            (
                "admin",
                SERIAL,
                false,
                vec!["admin".to_owned(), "deploy".to_owned()]
            ),
            ("orphan", SERIAL, false, vec!["orphan".to_owned()]),
        ]
    );

    // A code that is not 6 digits is refused before anything is sent.
    for bad in ["12345", "12345a", ""] {
        let err = mfa_sign_in(&files, "admin", bad).await.expect_err(bad);
        assert_eq!(err, MfaError::BadCode);
    }
    assert!(moto.bodies_of("AssumeRole").is_empty());
    // A source profile that does not exist is named.
    let err = mfa_sign_in(&files, "orphan", "123456")
        .await
        .expect_err("no source");
    assert!(
        err.to_string().contains("missing source_profile nowhere"),
        "{err}"
    );
    let err = mfa_sign_in(&files, "base", "123456")
        .await
        .expect_err("not an MFA profile");
    assert!(matches!(err, MfaError::NotMfa { .. }), "{err}");

    let signed_in = mfa_sign_in(&files, "admin", " 123456 ")
        .await
        .expect("role assumed");
    assert!(signed_in.expires_at > std::time::SystemTime::now());
    let sent = moto.bodies_of("AssumeRole");
    assert_eq!(sent.len(), 1, "{sent:?}");
    let body = &sent[0];
    for part in [
        "SerialNumber=arn%3Aaws%3Aiam%3A%3A111111111111%3Amfa%2Fpriya",
        "TokenCode=123456",
        "RoleArn=arn%3Aaws%3Aiam%3A%3A444455556666%3Arole%2Fadmin",
        "RoleSessionName=priya",
    ] {
        assert!(body.contains(part), "{part} not in {body}");
    }
    assert!(
        mfa_profiles(&files)
            .await
            .iter()
            .any(|p| p.profile == "admin" && p.signed_in)
    );

    // Now the role profile lists, with the role's credentials (STS says who it is).
    let lists_before = server.calls(Operation::ListEnvironments);
    let second = discover_with(&files, &options()).await;
    assert!(
        second.failures.iter().all(|f| f.profile != "admin"),
        "{:?}",
        second.failures
    );
    assert!(server.calls(Operation::ListEnvironments) >= lists_before + 2);
    let admin_envs: Vec<&str> = second
        .environments
        .iter()
        .filter(|e| e.profile == "admin")
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(admin_envs, ["orders-prod"]);
    let admin = second
        .identities
        .iter()
        .find(|i| i.profile == "admin")
        .expect("admin has an identity");
    assert_eq!(admin.account, "444455556666");
    assert!(
        admin
            .arn
            .starts_with("arn:aws:sts::444455556666:assumed-role/admin/priya"),
        "{admin:?}"
    );
    // The role after it was assumed from the MFA role's credentials, with no code of its own.
    let deploy = second
        .identities
        .iter()
        .find(|i| i.profile == "deploy")
        .expect("deploy has an identity");
    assert!(
        deploy
            .arn
            .starts_with("arn:aws:sts::777788889999:assumed-role/deploy/priya-deploy"),
        "{deploy:?}"
    );
    let sent = moto.bodies_of("AssumeRole");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[1].contains("RoleArn=arn%3Aaws%3Aiam%3A%3A777788889999%3Arole%2Fdeploy"));
    assert!(!sent[1].contains("TokenCode"), "{}", sent[1]);

    // Both are held: another sweep asks STS for no role again.
    let third = discover_with(&files, &options()).await;
    assert!(
        third
            .failures
            .iter()
            .all(|f| f.profile != "admin" && f.profile != "deploy"),
        "{:?}",
        third.failures
    );
    assert_eq!(moto.bodies_of("AssumeRole").len(), 2);
}

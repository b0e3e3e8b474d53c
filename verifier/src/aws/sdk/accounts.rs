//! Whose resources an audit reads: the ambient credentials' own account, or each account whose
//! audit role is assumed through STS (organisations run one read-only audit role per account and
//! audit them all in one run).

use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

use super::clients;
use super::errors::{AwsError, classify};

/// The name assumed-role sessions carry in CloudTrail.
pub const SESSION_NAME: &str = "rampart-verify-audit";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The credentials the standard chain found.
    Ambient,
    /// A role ARN to assume with the ambient credentials.
    Role(String),
}

/// One account, ready to audit.
#[derive(Debug, Clone)]
pub struct Account {
    /// The 12-digit account id, when known (GetCallerIdentity can be unreachable behind a
    /// restrictive endpoint policy; the audit goes on without it).
    pub id: Option<String>,
    pub principal: Principal,
    pub config: SdkConfig,
}

impl Principal {
    /// How a target that stands for the whole account is named when the account could not be
    /// audited.
    pub fn label(&self) -> String {
        match self {
            Principal::Ambient => "AWS account (default credentials)".to_owned(),
            Principal::Role(arn) => arn.clone(),
        }
    }
}

impl Account {
    pub fn label(&self) -> String {
        match (&self.id, &self.principal) {
            (Some(id), _) => format!("account {id}"),
            (None, p) => p.label(),
        }
    }
}

/// The account id of an IAM role ARN (`arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`).
pub fn role_account(arn: &str) -> Result<String, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let valid = parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|n| !n.is_empty());
    if valid {
        Ok(parts[4].to_owned())
    } else {
        Err(format!(
            "{arn:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"
        ))
    }
}

/// A roles file: one role ARN per line; blank lines and `#` comments are ignored.
pub fn parse_roles_file(text: &str, file: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let arn = line.split('#').next().unwrap_or_default().trim();
        if arn.is_empty() {
            continue;
        }
        role_account(arn).map_err(|e| format!("{file}:{}: {e}", i + 1))?;
        out.push(arn.to_owned());
    }
    if out.is_empty() {
        return Err(format!("{file}: no role ARN in the file"));
    }
    Ok(out)
}

/// The principals to audit, in the order given, each once; no role means the ambient account.
pub fn principals(roles: &[String]) -> Vec<Principal> {
    let mut out: Vec<Principal> = Vec::new();
    for r in roles {
        let p = Principal::Role(r.clone());
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        out.push(Principal::Ambient);
    }
    out
}

/// The account id in an ARN's fifth field.
fn arn_account(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(4)
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}

/// Prepares `principal`'s account: the ambient account as is, a role by assuming it right now
/// (so each account's session is fresh when its audit starts, however long earlier ones took).
pub async fn open(base: &SdkConfig, principal: &Principal) -> Result<Account, AwsError> {
    match principal {
        Principal::Ambient => Ok(Account {
            id: caller_account(base).await?,
            principal: principal.clone(),
            config: base.clone(),
        }),
        Principal::Role(arn) => assume(base, arn).await,
    }
}

/// The ambient credentials' account (GetCallerIdentity needs no permission). Rejected
/// credentials stop the audit here with a clear message; any other failure only loses the id.
async fn caller_account(config: &SdkConfig) -> Result<Option<String>, AwsError> {
    match clients::sts(config).get_caller_identity().send().await {
        Ok(out) => Ok(out.account().map(str::to_owned)),
        Err(e) => match classify(e, "sts:GetCallerIdentity", "the caller's identity") {
            e @ (AwsError::Rejected { .. } | AwsError::NoCredentials { .. }) => Err(e),
            e => {
                tracing::warn!("account id unknown: {e}");
                Ok(None)
            }
        },
    }
}

async fn assume(base: &SdkConfig, arn: &str) -> Result<Account, AwsError> {
    let subject = format!("assuming {arn}");
    let out = clients::sts(base)
        .assume_role()
        .role_arn(arn)
        .role_session_name(SESSION_NAME)
        .send()
        .await
        .map_err(|e| classify(e, "sts:AssumeRole", &subject))?;
    let Some(c) = out.credentials() else {
        return Err(AwsError::Other {
            action: "sts:AssumeRole",
            message: format!("{arn}: the response carried no credentials"),
        });
    };
    let expiry = SystemTime::try_from(*c.expiration()).ok();
    let creds = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        expiry,
        "AssumeRole",
    );
    let id = out
        .assumed_role_user()
        .and_then(|u| arn_account(u.arn()))
        .or_else(|| role_account(arn).ok());
    let config = base
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(creds))
        .build();
    Ok(Account {
        id,
        principal: Principal::Role(arn.to_owned()),
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_name_their_account() {
        assert_eq!(
            role_account("arn:aws:iam::111122223333:role/audit/RampartAudit").as_deref(),
            Ok("111122223333")
        );
        assert!(role_account("arn:aws:iam::111122223333:user/alice").is_err());
        assert!(role_account("arn:aws:iam::1111:role/x").is_err());
        assert!(role_account("RampartAudit").is_err());
        assert_eq!(
            arn_account("arn:aws:sts::111122223333:assumed-role/audit/s").as_deref(),
            Some("111122223333")
        );
    }

    #[test]
    fn roles_file_skips_comments_and_names_bad_lines() {
        let ok = parse_roles_file(
            "# production\narn:aws:iam::111122223333:role/audit  # main\n\n arn:aws:iam::444455556666:role/audit\n",
            "roles.txt",
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        let err = parse_roles_file(
            "arn:aws:iam::111122223333:role/a\nnot-an-arn\n",
            "roles.txt",
        )
        .unwrap_err();
        assert!(err.starts_with("roles.txt:2: "), "{err}");
        assert!(parse_roles_file("# nothing\n", "r").is_err());
    }

    #[test]
    fn principals_keep_order_and_drop_repeats() {
        let a = "arn:aws:iam::111122223333:role/a".to_owned();
        let b = "arn:aws:iam::444455556666:role/a".to_owned();
        assert_eq!(
            principals(&[a.clone(), b.clone(), a.clone()]),
            vec![Principal::Role(a), Principal::Role(b)]
        );
        assert_eq!(principals(&[]), vec![Principal::Ambient]);
    }
}

//! Why an AWS audit could not complete, worded so the reader knows what to do next: which IAM
//! action is missing, which id does not exist, that no credentials were found at all.
//!
//! The SDK reports all of these as one generic error type; [`classify`] sorts them by the
//! service's error code (and, failing that, the HTTP status) so every call site gets the same
//! wording.

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_cloudfront::error::{ProvideErrorMetadata, SdkError};

/// Where docs/iam-policy.json points people who hit AccessDenied.
const POLICY_HINT: &str = "docs/iam-policy.json has the complete read-only policy for the audits";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    #[error(
        "no AWS credentials found ({detail}). Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile with --profile or AWS_PROFILE (after `aws sso login` for SSO profiles), or run where a role is attached (ECS task role, EC2 instance profile)"
    )]
    NoCredentials { detail: String },
    #[error(
        "access denied: {subject} needs the IAM permission {action} ({POLICY_HINT}). AWS said: {message}"
    )]
    AccessDenied {
        action: &'static str,
        subject: String,
        message: String,
    },
    #[error("{subject} does not exist ({code}{message})")]
    NotFound {
        subject: String,
        code: String,
        message: String,
    },
    #[error(
        "AWS rejected the credentials while calling {action} ({code}): {message}. Check the access key, that a session token has not expired, or the profile's settings"
    )]
    Rejected {
        action: &'static str,
        code: String,
        message: String,
    },
    #[error(
        "AWS kept throttling {action} after the SDK's retries ({code}): run again later, or raise AWS_MAX_ATTEMPTS / set AWS_RETRY_MODE=adaptive"
    )]
    Throttled { action: &'static str, code: String },
    #[error("cannot reach the AWS endpoint for {action}: {message}")]
    Unreachable {
        action: &'static str,
        message: String,
    },
    #[error("{action} failed: {message}")]
    Other {
        action: &'static str,
        message: String,
    },
    /// A problem with what the command was given (no region, a malformed role ARN).
    #[error("{0}")]
    Usage(String),
}

impl AwsError {
    /// True for the error AWS gives for a region the account has not opted into: the
    /// credentials are unknown there, not wrong.
    pub fn is_unrecognized_client(&self) -> bool {
        matches!(self, AwsError::Rejected { code, .. } if code == "UnrecognizedClientException")
    }
}

const ACCESS_DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedException",
];
const NOT_FOUND: &[&str] = &[
    "NotFoundException",
    "NoSuchDistribution",
    "NoSuchResponseHeadersPolicy",
    "NoSuchResource",
];
const REJECTED: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "IncompleteSignature",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidAccessKeyId",
];
const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
];

/// The credential provider's own error, if that is what stopped the call.
fn credentials_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a CredentialsError> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            return Some(c);
        }
        current = e.source();
    }
    None
}

/// Sorts a failed call's error. `action` is the IAM action the call needs (e.g.
/// `cloudfront:ListDistributions`); `subject` names what was asked for, for the messages.
pub fn classify<E>(err: SdkError<E>, action: &'static str, subject: &str) -> AwsError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    if let Some(c) = credentials_error(&err) {
        return from_credentials(c);
    }
    match &err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code = ctx.err().code().unwrap_or_default().to_owned();
            // Messages are embedded in sentences of our own: no trailing full stop.
            let message = ctx
                .err()
                .message()
                .map(|m| m.trim().trim_end_matches('.').to_owned())
                .unwrap_or_else(|| format!("HTTP {status}"));
            service_error(status, code, message, action, subject)
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => AwsError::Unreachable {
            action,
            message: chain(&err),
        },
        _ => AwsError::Other {
            action,
            message: chain(&err),
        },
    }
}

fn service_error(
    status: u16,
    code: String,
    message: String,
    action: &'static str,
    subject: &str,
) -> AwsError {
    let is = |set: &[&str]| set.iter().any(|c| *c == code);
    if is(REJECTED) {
        AwsError::Rejected {
            action,
            code,
            message,
        }
    } else if is(ACCESS_DENIED) || (status == 403 && code.is_empty()) {
        AwsError::AccessDenied {
            action,
            subject: subject.to_owned(),
            message,
        }
    } else if is(NOT_FOUND) || status == 404 {
        let code = if code.is_empty() {
            "HTTP 404".to_owned()
        } else {
            code
        };
        AwsError::NotFound {
            subject: subject.to_owned(),
            code,
            message: if message.is_empty() {
                String::new()
            } else {
                format!(": {message}")
            },
        }
    } else if is(THROTTLED) || status == 429 {
        AwsError::Throttled { action, code }
    } else {
        let code = if code.is_empty() {
            format!("HTTP {status}")
        } else {
            code
        };
        AwsError::Other {
            action,
            message: format!("{code}: {message}"),
        }
    }
}

/// A credential provider's failure: nothing found anywhere in the chain is "no credentials";
/// anything else (an expired SSO token, a failing credential_process) keeps its own words.
pub fn from_credentials(c: &CredentialsError) -> AwsError {
    AwsError::NoCredentials { detail: chain(c) }
}

/// An error and its sources in words, without the SDK's debug dump: `a: b: c`, each level
/// once (wrappers often repeat their source's message).
pub fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        let text = text.trim();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(text)) {
            parts.push(text.to_owned());
        }
        current = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_pick_the_kind() {
        let e = service_error(
            403,
            "AccessDenied".into(),
            "User: x is not authorized".into(),
            "cloudfront:ListDistributions",
            "listing distributions",
        );
        assert!(e.to_string().contains("cloudfront:ListDistributions"));
        assert!(e.to_string().contains("docs/iam-policy.json"));
        let e = service_error(403, String::new(), String::new(), "apigateway:GET", "x");
        assert!(matches!(e, AwsError::AccessDenied { .. }));
        let e = service_error(
            403,
            "UnrecognizedClientException".into(),
            "The security token included in the request is invalid".into(),
            "apigateway:GET",
            "x",
        );
        assert!(e.is_unrecognized_client());
        let e = service_error(
            404,
            "NoSuchDistribution".into(),
            "The specified distribution does not exist".into(),
            "cloudfront:GetDistribution",
            "distribution E123",
        );
        assert_eq!(
            e.to_string(),
            "distribution E123 does not exist (NoSuchDistribution: The specified distribution does not exist)"
        );
        let e = service_error(
            429,
            "TooManyRequestsException".into(),
            "slow down".into(),
            "apigateway:GET",
            "x",
        );
        assert!(matches!(e, AwsError::Throttled { .. }));
        let e = service_error(500, String::new(), "boom".into(), "sts:AssumeRole", "x");
        assert_eq!(e.to_string(), "sts:AssumeRole failed: HTTP 500: boom");
    }
}

//! The SDK configuration every audit starts from (aws-config's standard chain, narrowed by the
//! command line) and the service clients made from it.

use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;

use super::errors::{self, AwsError};

/// How to reach AWS, as the command line says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    pub profile: Option<String>,
    /// Used for calls that need one region (STS); API Gateway names its regions itself.
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// aws-config's loader with the command line's overrides; everything else (environment,
/// shared config files, SSO, container and instance credentials, retry settings,
/// AWS_ENDPOINT_URL) comes from the standard chain.
pub fn loader(conn: &Connection) -> ConfigLoader {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(p) = &conn.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &conn.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(u) = &conn.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    loader
}

pub async fn load(conn: &Connection) -> SdkConfig {
    loader(conn).load().await
}

/// Asks the credential chain once, up front: "no credentials" is then one clear message instead
/// of the same failure on every call.
pub async fn ensure_credentials(config: &SdkConfig) -> Result<(), AwsError> {
    let Some(provider) = config.credentials_provider() else {
        return Err(AwsError::NoCredentials {
            detail: "no credential provider is configured".to_owned(),
        });
    };
    provider
        .provide_credentials()
        .await
        .map(|_| ())
        .map_err(|e| errors::from_credentials(&e))
}

/// The partition of a region, for ARNs.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// CloudFront is global: its API lives in us-east-1 (cn-northwest-1 in China), whatever region
/// the profile names.
pub fn cloudfront(config: &SdkConfig) -> aws_sdk_cloudfront::Client {
    let home = match config.region().map(|r| partition(r.as_ref())) {
        Some("aws-cn") => "cn-northwest-1",
        _ => "us-east-1",
    };
    let conf = aws_sdk_cloudfront::config::Builder::from(config)
        .region(Region::new(home))
        .build();
    aws_sdk_cloudfront::Client::from_conf(conf)
}

pub fn apigateway(config: &SdkConfig, region: &str) -> aws_sdk_apigateway::Client {
    let conf = aws_sdk_apigateway::config::Builder::from(config)
        .region(Region::new(region.to_owned()))
        .build();
    aws_sdk_apigateway::Client::from_conf(conf)
}

/// STS in the configured region (regional endpoints are the SDK's default), us-east-1 when none
/// is configured: CloudFront audits need no region otherwise.
pub fn sts(config: &SdkConfig) -> aws_sdk_sts::Client {
    let region = config
        .region()
        .cloned()
        .unwrap_or_else(|| Region::new("us-east-1"));
    let conf = aws_sdk_sts::config::Builder::from(config)
        .region(region)
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

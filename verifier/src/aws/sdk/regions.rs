//! The commercial regions `--all-regions` visits. Listing them at run time would need EC2 or
//! Account permissions the audit role otherwise does not need, so they are written down here;
//! `--region` reaches any region this list misses.

/// (region, opt-in): opt-in regions answer UnrecognizedClientException until an account
/// enables them, which `--all-regions` reads as "not enabled", not as bad credentials.
pub const COMMERCIAL: &[(&str, bool)] = &[
    ("us-east-1", false),
    ("us-east-2", false),
    ("us-west-1", false),
    ("us-west-2", false),
    ("af-south-1", true),
    ("ap-east-1", true),
    ("ap-east-2", true),
    ("ap-south-1", false),
    ("ap-south-2", true),
    ("ap-northeast-1", false),
    ("ap-northeast-2", false),
    ("ap-northeast-3", false),
    ("ap-southeast-1", false),
    ("ap-southeast-2", false),
    ("ap-southeast-3", true),
    ("ap-southeast-4", true),
    ("ap-southeast-5", true),
    ("ap-southeast-6", true),
    ("ap-southeast-7", true),
    ("ca-central-1", false),
    ("ca-west-1", true),
    ("eu-central-1", false),
    ("eu-central-2", true),
    ("eu-west-1", false),
    ("eu-west-2", false),
    ("eu-west-3", false),
    ("eu-north-1", false),
    ("eu-south-1", true),
    ("eu-south-2", true),
    ("il-central-1", true),
    ("me-central-1", true),
    ("me-south-1", true),
    ("mx-central-1", true),
    ("sa-east-1", false),
];

pub fn all() -> Vec<String> {
    COMMERCIAL.iter().map(|(r, _)| (*r).to_owned()).collect()
}

pub fn is_opt_in(region: &str) -> bool {
    COMMERCIAL.iter().any(|(r, opt_in)| *r == region && *opt_in)
}

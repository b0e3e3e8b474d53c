//! Configuration validation: each kind of mistake is an error naming file, line, column and field.

use std::path::Path;

use rampart_config::{Config, ConfigError, Overrides};

fn errors(toml: &str) -> Vec<ConfigError> {
    match Config::parse(toml, "rampart.toml", Path::new("."), &Overrides::default()) {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e.0,
    }
}

/// The single error for `toml`, checked for its location and field.
fn expect_error(toml: &str, line: usize, column: usize, field: &str, message_part: &str) {
    let errs = errors(toml);
    let e = errs.first().unwrap();
    assert_eq!(
        (e.line, e.column, e.field.as_str()),
        (line, column, field),
        "for {e} (all: {errs:?})"
    );
    assert!(e.message.contains(message_part), "{e}");
    assert_eq!(e.file, "rampart.toml");
    assert!(
        e.to_string()
            .starts_with(&format!("rampart.toml:{line}:{column}: {field}: ")),
        "{e}"
    );
}

const ROUTE: &str = "\n[[routes]]\nupstream = \"http://127.0.0.1:3000\"\n";

#[test]
fn unknown_field_is_located() {
    expect_error(
        &format!("[server]\nlisten = \"0.0.0.0:8080\"\nlissen = 1\n{ROUTE}"),
        3,
        1,
        "server.lissen",
        "unknown field `lissen`",
    );
}

#[test]
fn unknown_field_in_a_policy_table() {
    expect_error(
        &format!("[policies.site]\nx_frame_options = {{ valeu = \"DENY\" }}\n{ROUTE}"),
        2,
        21,
        "policies.site.x_frame_options",
        "unknown field `valeu`",
    );
}

#[test]
fn wrong_type_is_located() {
    expect_error(
        &format!("[policies.site.strict_transport_security]\nmax_age = \"one year\"\n{ROUTE}"),
        2,
        11,
        "policies.site.strict_transport_security.max_age",
        "invalid type",
    );
}

#[test]
fn toml_syntax_error_is_located() {
    let errs = errors("[server\nlisten = 1\n");
    assert_eq!(errs[0].line, 1, "{}", errs[0]);
}

#[test]
fn invalid_header_value_is_located() {
    expect_error(
        &format!("[policies.site]\nx_frame_options = {{ value = \"ALLOWALL\" }}\n{ROUTE}"),
        2,
        29,
        "policies.site.x_frame_options.value",
        "not DENY or SAMEORIGIN",
    );
    expect_error(
        &format!("[policies.site]\nserver = \"bad\\nvalue\"\n{ROUTE}"),
        2,
        10,
        "policies.site.server",
        "not allowed in a header value",
    );
    expect_error(
        &format!("[policies.site]\nreferrer_policy = {{ value = \"sometimes\" }}\n{ROUTE}"),
        2,
        29,
        "policies.site.referrer_policy.value",
        "is not one of",
    );
    expect_error(
        &format!(
            "[policies.site]\ncontent_security_policy = {{ value = \"script-src a; script-src b\" }}\n{ROUTE}"
        ),
        2,
        37,
        "policies.site.content_security_policy.value",
        "appears twice",
    );
}

#[test]
fn hsts_preload_without_include_subdomains_is_a_contradiction() {
    expect_error(
        &format!(
            "[policies.site.strict_transport_security]\nmax_age = 63072000\ninclude_subdomains = false\npreload = true\n{ROUTE}"
        ),
        4,
        11,
        "policies.site.strict_transport_security.preload",
        "requires include_subdomains",
    );
}

#[test]
fn hsts_preload_with_short_max_age_is_a_contradiction() {
    expect_error(
        &format!(
            "[policies.site.strict_transport_security]\nmax_age = 86400\npreload = true\n{ROUTE}"
        ),
        3,
        11,
        "policies.site.strict_transport_security.preload",
        "max_age >= 31536000",
    );
}

#[test]
fn bad_upstream_url_is_located() {
    expect_error(
        "[[routes]]\nupstream = \"ftp://files\"\n",
        2,
        12,
        "routes[0].upstream",
        "not supported",
    );
    expect_error(
        "[[routes]]\nupstream = \"127.0.0.1:3000\"\n",
        2,
        12,
        "routes[0].upstream",
        "",
    );
    expect_error(
        "[[routes]]\nupstream = \"http://app:3000/base\"\n",
        2,
        12,
        "routes[0].upstream",
        "has a path",
    );
}

#[test]
fn unknown_policy_on_a_route_lists_the_known_ones() {
    expect_error(
        "[[routes]]\nupstream = \"http://127.0.0.1:1\"\npolicy = \"strcit\"\n",
        3,
        10,
        "routes[0].policy",
        "known: cloudfront-security-headers, helmet, none, strict",
    );
}

#[test]
fn unknown_preset_in_extends() {
    expect_error(
        &format!("[policies.site]\nextends = \"paranoid\"\n{ROUTE}"),
        2,
        11,
        "policies.site.extends",
        "unknown preset",
    );
}

#[test]
fn removing_a_header_the_policy_sets_is_a_contradiction() {
    expect_error(
        &format!("[policies.site]\nalso_remove = [\"X-Frame-Options\"]\n{ROUTE}"),
        2,
        16,
        "policies.site.remove",
        "which this policy also sets",
    );
}

#[test]
fn bad_duration_and_limits_are_located() {
    expect_error(
        &format!("[server.timeouts]\nidle = \"forever\"\n{ROUTE}"),
        2,
        8,
        "server.timeouts.idle",
        "not a duration",
    );
    expect_error(
        &format!("[server.limits]\nmax_request_header_bytes = 100\n{ROUTE}"),
        2,
        28,
        "server.limits.max_request_header_bytes",
        "between 8192",
    );
    expect_error(
        &format!("[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n{ROUTE}"),
        2,
        20,
        "server.trusted_proxies",
        "CIDR",
    );
}

#[test]
fn custom_header_cannot_bypass_typed_rules_or_framing() {
    expect_error(
        &format!("[[policies.site.custom]]\nname = \"X-Frame-Options\"\nvalue = \"DENY\"\n{ROUTE}"),
        2,
        8,
        "policies.site.custom.name",
        "typed rule `x_frame_options`",
    );
    expect_error(
        &format!(
            "[[policies.site.custom]]\nname = \"Transfer-Encoding\"\nvalue = \"chunked\"\n{ROUTE}"
        ),
        2,
        8,
        "policies.site.custom.name",
        "body framing",
    );
}

#[test]
fn no_routes_is_an_error() {
    let errs = errors("[server]\nlisten = \"127.0.0.1:1\"\n");
    assert!(errs[0].message.contains("no routes"), "{}", errs[0]);
}

#[test]
fn several_errors_are_all_reported() {
    let errs =
        errors("[server]\nlisten = \"nope\"\nworkers = 0\n[[routes]]\nupstream = \"gopher://x\"\n");
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert_eq!(
        errs.iter().map(|e| e.line).collect::<Vec<_>>(),
        vec![2, 3, 5]
    );
}

#[test]
fn a_valid_file_resolves_presets_overrides_and_routes() {
    let cfg = Config::parse(
        r#"
[server]
listen = "0.0.0.0:9000"
trusted_proxies = ["10.0.0.0/8", "192.168.1.1"]

[policies.site]
extends = "strict"
server = "shop"
content_security_policy = { value = "default-src 'self' cdn.example", override = false }

[[routes]]
upstream = "https://app.internal:8443"
policy = "site"
"#,
        "rampart.toml",
        Path::new("."),
        &Overrides {
            workers: Some(3),
            ..Overrides::default()
        },
    )
    .unwrap();
    assert_eq!(cfg.server.listen.port(), 9000);
    assert_eq!(cfg.server.workers, Some(3));
    let p = cfg.policy("site").unwrap();
    let headers = p.spec.headers();
    let csp = headers
        .iter()
        .find(|(n, _, _)| n == "Content-Security-Policy")
        .unwrap();
    assert_eq!(csp.1, "default-src 'self' cdn.example");
    assert_eq!(csp.2, rampart_config::Mode::IfAbsent);
    assert!(
        headers
            .iter()
            .any(|(n, v, _)| n == "X-Frame-Options" && v == "DENY"),
        "inherited"
    );
    assert!(cfg.routes.iter().next().unwrap().upstream.is_https());
}

#[test]
fn header_values_are_parsed_once_at_load() {
    let cfg = Config::from_overrides(&Overrides {
        upstream: Some("http://127.0.0.1:1".into()),
        ..Overrides::default()
    })
    .unwrap();
    let strict = cfg.policy("strict").unwrap();
    // Compiled rules hold ready HeaderName/HeaderValue pairs: nothing to parse per request.
    assert!(
        strict
            .rules
            .iter()
            .any(|r| r.name == "x-frame-options" && r.value == "DENY")
    );
}

#[test]
fn the_example_file_in_the_repository_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/rampart.toml");
    let cfg = Config::load_file(&path, &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.routes.len(), 3);
    let site = cfg.policy("site").unwrap();
    assert!(site.spec.hsts.as_ref().unwrap().preload);
}

#[test]
fn error_body_settings_are_validated_with_locations() {
    expect_error(
        &format!("[policies.p.error_bodies]\nmode = \"sometimes\"\n{ROUTE}"),
        2,
        8,
        "policies.p.error_bodies.mode",
        "is not \"leaky\", \"always\" or \"off\"",
    );
    expect_error(
        &format!("[policies.p.error_bodies]\nstatuses = [\"4xx\", 302]\n{ROUTE}"),
        2,
        20,
        "policies.p.error_bodies.statuses",
        "error status",
    );
    expect_error(
        &format!(
            "[policies.p.error_bodies]\ndetectors = [{{ name = \"t\", pattern = \"TICKET-(\" }}]\n{ROUTE}"
        ),
        2,
        38,
        "policies.p.error_bodies.detectors",
        "invalid regex",
    );
    expect_error(
        &format!("[policies.p.error_bodies.templates.200]\njson = \"{{}}\"\n{ROUTE}"),
        1,
        36,
        "policies.p.error_bodies.templates",
        "not an error status",
    );
    expect_error(
        &format!(
            "[policies.p.error_bodies.templates.403]\ntext = \"denied for arn:aws:iam::123456789012:role/x\"\n{ROUTE}"
        ),
        2,
        8,
        "policies.p.error_bodies.templates.403.text",
        "matches a leak detector",
    );
    expect_error(
        &format!("[policies.p.error_bodies]\ninspect_limit = \"huge\"\n{ROUTE}"),
        2,
        17,
        "policies.p.error_bodies.inspect_limit",
        "a size",
    );
    expect_error(
        "[[routes]]\nupstream = \"http://127.0.0.1:1\"\nerror_bodies = \"never\"\n",
        3,
        16,
        "routes[0].error_bodies",
        "is not \"leaky\"",
    );
}

#[test]
fn presets_default_to_leaky_error_bodies_except_none() {
    let cfg = Config::from_overrides(&Overrides {
        upstream: Some("http://127.0.0.1:1".into()),
        ..Overrides::default()
    })
    .unwrap();
    use rampart_config::ErrorBodyMode::*;
    for (name, mode) in [
        ("strict", Leaky),
        ("helmet", Leaky),
        ("cloudfront-security-headers", Leaky),
        ("none", Off),
    ] {
        assert_eq!(cfg.policy(name).unwrap().error_bodies.mode, mode, "{name}");
    }
    let eb = &cfg.policy("strict").unwrap().error_bodies;
    assert_eq!(eb.inspect_limit, 65536);
    assert!(eb.applies_to(400) && eb.applies_to(599) && !eb.applies_to(399) && !eb.applies_to(200));
}

#[test]
fn admin_listen_must_be_an_address_or_a_port() {
    expect_error(
        &format!("[admin]\nlisten = \"localhost\"\n{ROUTE}"),
        2,
        10,
        "admin.listen",
        "not an address:port",
    );
    let cfg = Config::parse(
        &format!("[admin]\nlisten = \"9911\"\n{ROUTE}"),
        "rampart.toml",
        Path::new("."),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(
        cfg.admin.unwrap().listen,
        "127.0.0.1:9911".parse().unwrap(),
        "a port alone is loopback"
    );
}

#[test]
fn readiness_path_without_the_http_check_is_a_contradiction() {
    expect_error(
        &format!("[admin.readiness]\npath = \"/health\"\n{ROUTE}"),
        2,
        8,
        "admin.readiness.path",
        "only the \"http\" check",
    );
    expect_error(
        &format!("[admin.readiness]\ncheck = \"ping\"\n{ROUTE}"),
        2,
        9,
        "admin.readiness.check",
        "is not \"tcp\", \"http\" or \"none\"",
    );
}

#[test]
fn drain_delay_and_config_watch_take_durations() {
    expect_error(
        &format!("[server]\nconfig_watch_interval = \"often\"\n{ROUTE}"),
        2,
        25,
        "server.config_watch_interval",
        "is not a duration",
    );
    expect_error(
        &format!("[server.timeouts]\ndrain_delay = \"5 parsecs\"\n{ROUTE}"),
        2,
        15,
        "server.timeouts.drain_delay",
        "is not a duration",
    );
    let cfg = Config::parse(
        &format!("[server]\nconfig_watch_interval = \"0s\"\n[server.timeouts]\ndrain_delay = \"5s\"\n{ROUTE}"),
        "rampart.toml",
        Path::new("."),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(cfg.server.config_watch, None, "0s: SIGHUP only");
    assert_eq!(
        cfg.server.timeouts.drain_delay,
        std::time::Duration::from_secs(5)
    );
    assert!(cfg.admin.is_none(), "no [admin]: no admin listener");
}

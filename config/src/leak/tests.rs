use super::*;

fn set() -> DetectorSet {
    DetectorSet::builtin()
}

/// Detector ids that fire on `text`, sorted and deduplicated.
fn ids_of(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = set()
        .scan(text.as_bytes())
        .into_iter()
        .map(|m| m.detector.to_string())
        .collect();
    ids.dedup();
    ids.sort();
    ids.dedup();
    ids
}

/// Asserts that detector `id` reports exactly `expected` somewhere in `text`.
#[track_caller]
fn assert_hit(id: &str, text: &str, expected: &str) {
    let found = set().scan(text.as_bytes());
    let slices: Vec<(String, &str)> = found
        .iter()
        .map(|m| (m.detector.to_string(), &text[m.start..m.end]))
        .collect();
    assert!(
        slices.iter().any(|(d, s)| d == id && *s == expected),
        "{id} should report {expected:?} in {text:?}; got {slices:?}"
    );
    assert!(set().is_leaky(text.as_bytes()));
    // The proxy's early-exit search agrees: it names a detector `scan` reports.
    let named = set().which(text.as_bytes()).map(|d| d.as_str().to_owned());
    assert!(
        named
            .as_ref()
            .is_some_and(|n| slices.iter().any(|(d, _)| d == n)),
        "which() named {named:?} for {text:?}; scan: {slices:?}"
    );
}

#[track_caller]
fn assert_clean(text: &str) {
    let found = set().scan(text.as_bytes());
    let slices: Vec<(String, &str)> = found
        .iter()
        .map(|m| (m.detector.to_string(), &text[m.start..m.end]))
        .collect();
    assert!(found.is_empty(), "{text:?} should be clean; got {slices:?}");
    assert!(!set().is_leaky(text.as_bytes()));
    assert!(set().first(text.as_bytes()).is_none());
    assert!(
        set().which(text.as_bytes()).is_none(),
        "which() on {text:?}"
    );
}

#[track_caller]
fn assert_not(id: &str, text: &str) {
    let ids = ids_of(text);
    assert!(
        !ids.iter().any(|d| d == id),
        "{id} should not fire on {text:?}; got {ids:?}"
    );
}

// ---------------------------------------------------------------------------
// Construction

#[test]
fn builtins_compile() {
    // Compiles the table without the LazyLock so a bad pattern shows its
    // regex error instead of a poisoned-lock panic.
    let s = DetectorSet::compile(&[]).unwrap();
    assert_eq!(s.ids().count(), BUILTINS.len());
    // The built-ins compile to ~256 KiB today; this guard keeps growth
    // deliberate and leaves most of SET_SIZE_LIMIT to custom patterns.
    RegexSetBuilder::new(s.inner.set.patterns())
        .size_limit(1 << 20)
        .build()
        .unwrap();
    for d in BUILTINS {
        for r in d.rules {
            let p = format!("(?-u){}", r.pattern);
            single_regex(&p).unwrap_or_else(|e| panic!("{}: {e}", d.id));
            assert!(
                !single_regex(&p).unwrap().is_match(b""),
                "{} matches empty",
                d.id
            );
        }
    }
}

#[test]
fn builtin_ids_are_the_documented_list() {
    let s = set();
    let ids: Vec<&str> = s.ids().collect();
    let expected = [
        "aws-arn",
        "aws-account-id",
        "aws-account-id-masked",
        "aws-access-key-id",
        "aws-apigateway-message",
        "aws-sigv4-message",
        "aws-waf-message",
        "aws-exception-name",
        "stack-trace-java",
        "stack-trace-python",
        "stack-trace-node",
        "stack-trace-go",
        "stack-trace-rust",
        "stack-trace-dotnet",
        "stack-trace-php",
        "sql-error",
        "private-ipv4",
        "private-ipv6",
        "internal-hostname",
        "filesystem-path",
        "version-banner",
        "debug-page-spring",
        "debug-page-django",
        "debug-page-laravel",
        "debug-page-rails",
    ];
    assert_eq!(ids, expected);
}

#[test]
fn set_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<DetectorSet>();
    assert_send_sync::<LeakMatch>();
    let a = DetectorSet::builtin();
    let b = DetectorSet::builtin();
    assert!(Arc::ptr_eq(&a.inner, &b.inner));
}

#[test]
fn detector_id_traits() {
    use std::collections::HashMap;
    let a = DetectorId::builtin("aws-arn");
    let c = DetectorId::custom("ticket");
    assert_eq!(a.as_str(), "aws-arn");
    assert_eq!(c.as_str(), "custom:ticket");
    assert_eq!(c.to_string(), "custom:ticket");
    assert_eq!(format!("{a:?}"), "\"aws-arn\"");
    assert!(c.is_custom() && !a.is_custom());
    assert!(a < c);
    assert_eq!(a, "aws-arn");
    let mut map = HashMap::new();
    map.insert(a.clone(), 1);
    assert_eq!(map.get("aws-arn"), Some(&1));
}

// ---------------------------------------------------------------------------
// Messages seen in the wild (from the issue), verbatim.

const WILD_APIGW_ANON: &str = r#"{"Message":"User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-west-2:********2543:vd2gh6uqw3/api/GET/"}"#;
const WILD_APIGW_ROLE: &str = "User: arn:aws:iam::123456789012:role/your-authorized-role is not authorized to perform: execute-api:Invoke on the resource: arn:aws:execute-api:eu-west-1:123456789012:123456/prod/POST/users with an explicit deny";
const WILD_STS: &str = "User: arn:aws:sts::123456789012:assumed-role/Admin/session";
const WILD_SIGV4: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const WILD_WAF: &str = "Your request has been blocked by AWS WAF.";
const WILD_MISSING_TOKEN: &str = r#"{"message":"Missing Authentication Token"}"#;
const WILD_EXPLICIT_DENY: &str =
    "User is not authorized to access this resource with an explicit deny";
const WILD_TIMEOUT: &str = r#"{"message": "Endpoint request timed out"}"#;

#[test]
fn wild_api_gateway_anonymous() {
    let t = WILD_APIGW_ANON;
    assert_hit(
        "aws-arn",
        t,
        "arn:aws:execute-api:us-west-2:********2543:vd2gh6uqw3/api/GET/",
    );
    assert_hit("aws-account-id-masked", t, "********2543");
    assert_hit("aws-apigateway-message", t, "is not authorized to perform");
    assert_hit("aws-apigateway-message", t, "execute-api:Invoke");
}

#[test]
fn wild_api_gateway_role() {
    let t = WILD_APIGW_ROLE;
    assert_hit(
        "aws-arn",
        t,
        "arn:aws:iam::123456789012:role/your-authorized-role",
    );
    assert_hit(
        "aws-arn",
        t,
        "arn:aws:execute-api:eu-west-1:123456789012:123456/prod/POST/users",
    );
    assert_hit("aws-account-id", t, "123456789012");
    assert_hit("aws-apigateway-message", t, "is not authorized to perform");
    // Both account ids are found, not just the first.
    let n = set()
        .scan(t.as_bytes())
        .iter()
        .filter(|m| m.detector == "aws-account-id")
        .count();
    assert_eq!(n, 2);
}

#[test]
fn wild_sts() {
    assert_hit(
        "aws-arn",
        WILD_STS,
        "arn:aws:sts::123456789012:assumed-role/Admin/session",
    );
    assert_hit("aws-account-id", WILD_STS, "123456789012");
}

#[test]
fn wild_sigv4() {
    assert_hit(
        "aws-sigv4-message",
        WILD_SIGV4,
        "The request signature we calculated does not match the signature you provided",
    );
}

#[test]
fn wild_waf() {
    assert_hit("aws-waf-message", WILD_WAF, "blocked by AWS WAF");
}

#[test]
fn wild_api_gateway_messages() {
    assert_hit(
        "aws-apigateway-message",
        WILD_MISSING_TOKEN,
        "Missing Authentication Token",
    );
    assert_hit(
        "aws-apigateway-message",
        WILD_EXPLICIT_DENY,
        "User is not authorized to access this resource",
    );
    assert_hit(
        "aws-apigateway-message",
        WILD_TIMEOUT,
        "Endpoint request timed out",
    );
}

// ---------------------------------------------------------------------------
// Per-detector positives and near-misses.

#[test]
fn aws_arn() {
    assert_hit(
        "aws-arn",
        r#"{"Resource":"arn:aws:s3:::my-bucket/key.txt"}"#,
        "arn:aws:s3:::my-bucket/key.txt",
    );
    assert_hit(
        "aws-arn",
        "policy arn:aws:iam::aws:policy/AdministratorAccess.",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    );
    assert_hit(
        "aws-arn",
        "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f",
        "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f",
    );
    assert_not("aws-arn", "yarn:aws is a package manager");
    assert_not("aws-arn", "arn:aws:");
}

#[test]
fn aws_account_id() {
    assert_hit(
        "aws-account-id",
        r#"{"account":"123456789012"}"#,
        "123456789012",
    );
    assert_hit("aws-account-id", "account 123456789012.", "123456789012");
    assert_hit("aws-account-id", "123456789012", "123456789012");
    // Adjacent ids share one separator; both must be found.
    let t = "123456789012 210987654321";
    let m = set().scan(t.as_bytes());
    let spans: Vec<&str> = m
        .iter()
        .filter(|m| m.detector == "aws-account-id")
        .map(|m| &t[m.range()])
        .collect();
    assert_eq!(spans, ["123456789012", "210987654321"]);

    assert_not("aws-account-id", "550e8400-e29b-41d4-a716-446655440000");
    assert_not("aws-account-id", "1700000000000"); // 13-digit epoch ms
    assert_not("aws-account-id", "12345678901"); // 11 digits
    assert_not("aws-account-id", "0.123456789012");
    assert_not("aws-account-id", "123456789012.5");
    assert_not("aws-account-id", "id-123456789012");
    assert_not("aws-account-id", "x123456789012");
}

#[test]
fn aws_account_id_masked() {
    assert_hit(
        "aws-account-id-masked",
        "acct ********2543 x",
        "********2543",
    );
    assert_not("aws-account-id-masked", "card ************2543");
    assert_not("aws-account-id-masked", "********25431");
    assert_not("aws-account-id-masked", "*******2543");
}

#[test]
fn aws_access_key_id() {
    for k in [
        "AKIAIOSFODNN7EXAMPLE",
        "ASIAY34FZKBOKMUTVV7A",
        "AROA1234567890ABCDEF",
        "AIDAJQABLZS4A3QDU576",
        "AGPA1234567890ABCDEF",
        "ANPA1234567890ABCDEF",
        "ANVA1234567890ABCDEF",
        "AIPA1234567890ABCDEF",
    ] {
        assert_hit("aws-access-key-id", &format!("Credential={k}/2024"), k);
    }
    assert_not("aws-access-key-id", "AKIAIOSFODNN7EXAMPLEX"); // 17 chars
    assert_not("aws-access-key-id", "XAKIAIOSFODNN7EXAMPLE");
    assert_not("aws-access-key-id", "akiaiosfodnn7example");
}

#[test]
fn aws_apigateway_message() {
    for (t, want) in [
        (
            r#"{"message":"Invalid API Key identifier specified"}"#,
            "Invalid API Key identifier specified",
        ),
        (
            "Execution failed due to configuration error: Invalid permissions",
            "Execution failed due to configuration error",
        ),
        (
            "Invalid key=value pair (missing equal-sign) in Authorization header",
            "Invalid key=value pair",
        ),
        (
            "Authorization header requires 'Credential' parameter.",
            "Authorization header requires",
        ),
    ] {
        assert_hit("aws-apigateway-message", t, want);
    }
}

#[test]
fn aws_sigv4_message() {
    for (t, want) in [
        (
            "The Canonical String for this request should have been 'GET\n/'",
            "The Canonical String for this request should have been",
        ),
        ("The String-to-Sign should have been", "String-to-Sign"),
        (
            "Authorization=AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/s3/aws4_request",
            "AWS4-HMAC-SHA256",
        ),
        (
            "Signature expired: 20240101T000000Z is now earlier",
            "Signature expired",
        ),
        (r#"{"__type":"IncompleteSignature"}"#, "IncompleteSignature"),
    ] {
        assert_hit("aws-sigv4-message", t, want);
    }
    assert_not("aws-sigv4-message", "Invalid signature on the form");
    assert_not("aws-sigv4-message", "the string to sign is empty");
}

#[test]
fn aws_waf_message() {
    let cloudfront = "<HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY>\n<H1>403 ERROR</H1>\n<H2>The request could not be satisfied.</H2>\nRequest blocked.\n<PRE>\nGenerated by cloudfront (CloudFront)\nRequest ID: 5aB3xyzQ==\n</PRE></BODY></HTML>";
    assert_hit(
        "aws-waf-message",
        cloudfront,
        "The request could not be satisfied",
    );
    assert_hit("aws-waf-message", cloudfront, "Generated by cloudfront");
    assert_hit("aws-waf-message", cloudfront, "Request blocked");
    assert_hit("aws-waf-message", cloudfront, "Request ID:");
    assert_hit(
        "aws-waf-message",
        "Request blocked. Contact admin. (AWS WAF)",
        "Request blocked",
    );
    // The gated parts alone are generic.
    assert_clean("Request blocked by policy.");
    assert_clean(r#"{"error":"bad input","Request ID: ":"abc"}"#);
}

#[test]
fn aws_exception_name() {
    for (t, want) in [
        (
            r#"{"__type":"AccessDeniedException"}"#,
            "AccessDeniedException",
        ),
        (
            "IncompleteSignatureException: missing",
            "IncompleteSignatureException",
        ),
        (
            r#"{"code":"ResourceNotFoundException"}"#,
            "ResourceNotFoundException",
        ),
        (
            "com.amazon.coral.service#UnknownOperationException",
            "com.amazon.coral.service#UnknownOperationException",
        ),
        (r#"{"__type": "x"}"#, r#""__type": ""#),
    ] {
        assert_hit("aws-exception-name", t, want);
    }
    assert_not("aws-exception-name", "Exception: boom");
    assert_not("aws-exception-name", "exceptional conditions");
}

#[test]
fn stack_trace_java() {
    let t = "java.lang.NullPointerException: x\n\tat com.foo.Bar.baz(Bar.java:42)\n\tat java.base/java.lang.Thread.run(Thread.java:829)\nCaused by: java.io.IOException: y\n\t... 12 more";
    assert_hit("stack-trace-java", t, "at com.foo.Bar.baz(Bar.java:42)");
    assert_hit(
        "stack-trace-java",
        t,
        "at java.base/java.lang.Thread.run(Thread.java:829)",
    );
    assert_hit("stack-trace-java", t, "Caused by: java.io.IOException");
    assert_hit("stack-trace-java", t, "... 12 more");
    assert_hit(
        "stack-trace-java",
        r#"Exception in thread "main" java.lang.Error"#,
        r#"Exception in thread ""#,
    );
    assert_hit(
        "stack-trace-java",
        "at sun.reflect.X.invoke(Native Method)",
        "at sun.reflect.X.invoke(Native Method)",
    );
    assert_not("stack-trace-java", "the outage was caused by: a bad deploy");
    assert_not("stack-trace-java", "meet at noon.");
}

#[test]
fn stack_trace_python() {
    let t = "Traceback (most recent call last):\n  File \"/x.py\", line 3, in f\nValueError: bad";
    assert_hit("stack-trace-python", t, "Traceback (most recent call last)");
    assert_hit("stack-trace-python", t, "File \"/x.py\", line 3");
    // JSON-escaped.
    assert_hit(
        "stack-trace-python",
        r#"{"trace":"File \"app.py\", line 9"}"#,
        r#"File \"app.py\", line 9"#,
    );
    assert_not("stack-trace-python", "File not found, line up please");
}

#[test]
fn stack_trace_node() {
    let t = "TypeError: x is not a function\n    at Object.<anonymous> (/app/x.js:1:2)\n    at Module._compile (node:internal/modules/cjs/loader:1105:14)\n    at async Promise.all (index 0)\n    at /srv/app/handler.mjs:10:5";
    assert_hit(
        "stack-trace-node",
        t,
        "at Object.<anonymous> (/app/x.js:1:2)",
    );
    assert_hit("stack-trace-node", t, "at Module._compile");
    assert_hit("stack-trace-node", t, "node:internal/");
    assert_hit("stack-trace-node", t, "at /srv/app/handler.mjs:10:5");
    assert_not("stack-trace-node", "look at the docs (see page 3)");
}

#[test]
fn stack_trace_go() {
    let t = "panic: runtime error: index out of range\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:123 +0x1d\nexit status 2";
    assert_hit("stack-trace-go", t, "panic: ");
    assert_hit("stack-trace-go", t, "goroutine 1 [running]:");
    assert_hit("stack-trace-go", t, ".go:123 +0x1d");
    assert_hit(
        "stack-trace-go",
        r#"{"log":"oops\npanic: boom"}"#,
        "panic: ",
    );
    assert_not("stack-trace-go", "Don't panic: it is fine.");
}

#[test]
fn stack_trace_rust() {
    let t = "thread 'main' panicked at src/main.rs:2:5:\nboom\nnote: run with `RUST_BACKTRACE=1` environment variable\nstack backtrace:";
    assert_hit("stack-trace-rust", t, "thread 'main' panicked at");
    assert_hit("stack-trace-rust", t, "RUST_BACKTRACE");
    assert_hit("stack-trace-rust", t, "stack backtrace:");
    assert_hit("stack-trace-rust", t, "src/main.rs:2:5");
    assert_not("stack-trace-rust", "edit src/main.rs and rebuild");
    assert_not("stack-trace-rust", "no backtrace available");
}

#[test]
fn stack_trace_dotnet() {
    let t = "System.NullReferenceException: Object reference not set\n   at Foo.Bar() in C:\\x\\y.cs:line 12\n--- End of stack trace from previous location ---";
    assert_hit("stack-trace-dotnet", t, "System.NullReferenceException");
    assert_hit(
        "stack-trace-dotnet",
        t,
        "at Foo.Bar() in C:\\x\\y.cs:line 12",
    );
    assert_hit("stack-trace-dotnet", t, "--- End of stack trace");
    assert_hit(
        "stack-trace-dotnet",
        "<h1>Server Error in '/' Application.</h1>",
        "Server Error in '/' Application",
    );
    assert_not("stack-trace-dotnet", "System.Text.Json failed to parse");
    assert_not("stack-trace-dotnet", "meet at Home(base) in town");
}

#[test]
fn stack_trace_php() {
    assert_hit(
        "stack-trace-php",
        "PHP Fatal error:  Uncaught Exception: x in /var/www/a.php:3",
        "PHP Fatal error",
    );
    assert_hit(
        "stack-trace-php",
        "Stack trace:\n#0 /var/www/a.php(3): f()",
        "Stack trace:\n#0 ",
    );
    assert_hit(
        "stack-trace-php",
        "<b>Warning</b>:  Division by zero in <b>/var/www/a.php</b> on line <b>12</b><br />",
        "on line <b>12</b>",
    );
    assert_hit(
        "stack-trace-php",
        "Parse error: syntax error in index.php on line 4",
        ".php on line 4",
    );
    assert_hit(
        "stack-trace-php",
        "<b>Fatal error</b>: Uncaught",
        "<b>Fatal error</b>:",
    );
    assert_not("stack-trace-php", "PHP is a language");
    assert_not("stack-trace-php", "Stack trace: none");
}

#[test]
fn sql_error() {
    for (t, want) in [
        (
            "You have an error in your SQL syntax; check the manual",
            "You have an error in your SQL syntax",
        ),
        ("ORA-00933: SQL command not properly ended", "ORA-00933"),
        ("PG::UndefinedTable: ERROR", "PG::U"),
        ("psycopg2.errors.UndefinedTable: relation", "psycopg2.e"),
        ("SQLSTATE[42S02]: Base table", "SQLSTATE["),
        (
            "ERROR: syntax error at or near \"FROM\"",
            "syntax error at or near",
        ),
        ("SQLite3::SQLException: no such table", "SQLite3::"),
        (
            "sqlite3.OperationalError: no such table: users",
            "sqlite3.OperationalError",
        ),
        (
            "Unclosed quotation mark after the character string ''.",
            "Unclosed quotation mark",
        ),
        (
            "Microsoft OLE DB Provider for ODBC Drivers error '80040e14'",
            "Microsoft OLE DB",
        ),
        (
            "[Microsoft][ODBC SQL Server Driver][SQL Server]Invalid",
            "ODBC SQL Server Driver",
        ),
        (
            "com.mysql.jdbc.exceptions.jdbc4.MySQLSyntaxErrorException: x",
            "MySQLSyntaxErrorException",
        ),
        (
            "ERROR: relation \"users\" does not exist",
            "relation \"users\" does not exist",
        ),
        (
            r#"{"detail":"relation \"users\" does not exist"}"#,
            r#"relation \"users\" does not exist"#,
        ),
        (
            "duplicate key value violates unique constraint \"users_pkey\"",
            "duplicate key value violates unique constraint",
        ),
    ] {
        assert_hit("sql-error", t, want);
    }
    assert_not("sql-error", "ORA-123 is not a code");
    assert_not("sql-error", "the relation between us does not exist");
}

#[test]
fn private_ipv4() {
    for ip in [
        "10.0.1.23",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "169.254.169.254",
        "127.0.0.1",
    ] {
        assert_hit("private-ipv4", &format!("connect to {ip}:5432 failed"), ip);
        assert_hit("private-ipv4", &format!("host {ip}."), ip);
        assert_hit("private-ipv4", &format!("\"{ip}\""), ip);
    }
    assert_not("private-ipv4", "version 1.10.0.1.2");
    assert_not("private-ipv4", "v10.0.0.1.5");
    assert_not("private-ipv4", "110.0.0.1");
    assert_not("private-ipv4", "172.32.0.1");
    assert_not("private-ipv4", "10.0.0.256");
    assert_clean("8.8.8.8");
    assert_clean("dns 8.8.8.8 and 1.1.1.1");
}

#[test]
fn private_ipv6() {
    for ip in [
        "fd12:3456:789a:1::1",
        "fe80::1ff:fe23:4567:890a%eth0",
        "fc00::1",
    ] {
        assert_hit("private-ipv6", &format!("addr {ip} down"), ip);
    }
    assert_hit("private-ipv6", "http://[::1]:8080/", "::1");
    assert_hit("private-ipv6", "bind ::1 port 80", "::1");
    assert_hit("private-ipv6", "[fe80::1]:443", "fe80::1");
    assert_not("private-ipv6", "2001:4860:4860::8888");
    assert_not("private-ipv6", "std::1");
    assert_not("private-ipv6", "fdab: notes");
}

#[test]
fn internal_hostname() {
    for (t, want) in [
        (
            "ip-10-0-1-23.us-west-2.compute.internal",
            "ip-10-0-1-23.us-west-2.compute.internal",
        ),
        (
            "host ip-10-0-1-23.ec2.internal:8080",
            "ip-10-0-1-23.ec2.internal",
        ),
        ("node ip-10-0-1-23 is NotReady", "ip-10-0-1-23"),
        (
            "dial tcp: lookup api.default.svc.cluster.local: no such host",
            "api.default.svc.cluster.local",
        ),
        ("db.corp.internal refused", "db.corp.internal"),
        ("connect ECONNREFUSED localhost:5432", "localhost:5432"),
    ] {
        assert_hit("internal-hostname", t, want);
    }
    assert_not("internal-hostname", "com.acme.internal.Service failed");
    assert_not("internal-hostname", "internal error");
    assert_not("internal-hostname", "localhost is fine");
    assert_not("internal-hostname", "node:internal/modules");
}

#[test]
fn filesystem_path() {
    for (t, want) in [
        ("in /home/deploy/app/main.py", "/home/deploy/app/main.py"),
        ("open /var/www/html/index.php", "/var/www/html/index.php"),
        (
            "at /usr/local/lib/python3.11/site-packages/x.py",
            "/usr/local/lib/python3.11/site-packages/x.py",
        ),
        ("(/var/task/index.js:3)", "/var/task/index.js"),
        (
            "File \"/var/lang/lib/python3.12/runpy.py\"",
            "/var/lang/lib/python3.12/runpy.py",
        ),
        ("cat /etc/passwd", "/etc/passwd"),
        ("file:///etc/hosts", "/etc/hosts"),
        (
            "C:\\inetpub\\wwwroot\\web.config",
            "C:\\inetpub\\wwwroot\\web.config",
        ),
        (
            r#"{"path":"C:\\Users\\bob\\app.dll"}"#,
            r"C:\\Users\\bob\\app.dll",
        ),
    ] {
        assert_hit("filesystem-path", t, want);
    }
    assert_not("filesystem-path", "GET /api/users/42");
    assert_not("filesystem-path", "https://example.com/app/users");
    assert_not("filesystem-path", "/home");
    assert_not("filesystem-path", "/homepage/x");
    assert_not("filesystem-path", "C:\\");
}

#[test]
fn version_banner() {
    for (t, want) in [
        ("<hr><center>nginx/1.18.0</center>", "nginx/1.18.0"),
        (
            "Apache/2.4.41 (Ubuntu) Server at x Port 80",
            "Apache/2.4.41 (Ubuntu)",
        ),
        ("X-Powered-By: PHP/8.1.2", "PHP/8.1.2"),
        ("Werkzeug/2.0.1 Python/3.11.4", "Werkzeug/2.0.1"),
        ("Werkzeug/2.0.1 Python/3.11.4", "Python/3.11.4"),
        ("Microsoft-IIS/10.0", "Microsoft-IIS/10.0"),
        ("Express/4.18", "Express/4.18"),
        (
            "Powered by Jetty(9.4.48.v20220622)",
            "Jetty(9.4.48.v20220622)",
        ),
        ("Apache Tomcat/9.0.65", "Apache Tomcat/9.0.65"),
        ("gunicorn/20.1.0", "gunicorn/20.1.0"),
        ("openresty/1.19.9.1", "openresty/1.19.9.1"),
        ("Server: Kestrel", "Kestrel"),
        ("OpenSSL/1.1.1k", "OpenSSL/1.1.1k"),
        ("ASP.NET Version:4.8.4330.0", "ASP.NET Version:4"),
    ] {
        assert_hit("version-banner", t, want);
    }
    assert_clean("1.10.0");
    assert_not("version-banner", "see /docs/python/3 for help");
    assert_not("version-banner", "nginx is great");
}

#[test]
fn debug_page_spring() {
    let t = "<h1>Whitelabel Error Page</h1><p>This application has no explicit mapping for /error, so you are seeing this as a fallback.</p>";
    assert_hit("debug-page-spring", t, "Whitelabel Error Page");
    assert_hit(
        "debug-page-spring",
        t,
        "This application has no explicit mapping for /error",
    );
    assert_not("debug-page-spring", "<h1>Error Page</h1>");
}

#[test]
fn debug_page_django() {
    let t = "<p>You're seeing this error because you have <code>DEBUG = True</code> in your Django settings file.</p>";
    assert_hit(
        "debug-page-django",
        t,
        "seeing this error because you have <code>DEBUG = True</code>",
    );
    assert_hit(
        "debug-page-django",
        "<th>Django Version:</th><td>4.2</td>",
        "Django Version:",
    );
    assert_hit(
        "debug-page-django",
        "<th>Request Method:</th><td>GET</td><th>Exception Value:</th>",
        "Exception Value:",
    );
    assert_not("debug-page-django", "Exception Value: 3");
    assert_not("debug-page-django", "Request Method: GET");
}

#[test]
fn debug_page_laravel() {
    assert_hit(
        "debug-page-laravel",
        "<h1>Whoops! There was an error.</h1>",
        "Whoops! There was an error",
    );
    assert_hit(
        "debug-page-laravel",
        "Illuminate\\Database\\QueryException",
        "Illuminate\\D",
    );
    assert_hit(
        "debug-page-laravel",
        r#"{"exception":"Illuminate\\Database\\QueryException"}"#,
        r"Illuminate\\D",
    );
    assert_hit(
        "debug-page-laravel",
        "laravel.log: Stack trace follows",
        "laravel",
    );
    assert_hit(
        "debug-page-laravel",
        "<script src=\"/vendor/spatie/laravel-ignition/x.js\">",
        "spatie/laravel-ignition",
    );
    assert_not("debug-page-laravel", "we use laravel");
}

#[test]
fn debug_page_rails() {
    assert_hit(
        "debug-page-rails",
        "<title>Action Controller: Exception caught</title>",
        "Action Controller: Exception caught",
    );
    assert_hit(
        "debug-page-rails",
        "ActiveRecord::RecordNotFound",
        "ActiveRecord::R",
    );
    assert_hit("debug-page-rails", "Rails.root: /home/app", "Rails.root:");
    assert_not("debug-page-rails", "ActiveRecord is an ORM");
}

// ---------------------------------------------------------------------------
// Near-misses from the issue: none of these may match anything.

#[test]
fn near_misses_are_clean() {
    for t in [
        "550e8400-e29b-41d4-a716-446655440000",
        r#"{"id":"550e8400-e29b-41d4-a716-446655440000"}"#,
        "2024-01-15T10:30:00Z",
        "2024-01-15T10:30:00.123456+00:00",
        "1700000000000",
        r#"{"ts":1700000000000}"#,
        "1.10.0",
        "version 1.10.0.1.2",
        r#"{"message":"Forbidden"}"#,
        r#"{"message":"Not Found"}"#,
        r#"{"message":"Unauthorized"}"#,
        r#"{"message":"Internal server error"}"#,
        r#"{"message":"Internal Server Error"}"#,
        r#"{"error":"not_found","path":"/api/users/42"}"#,
        "8.8.8.8",
        "default-src 'self'; script-src 'self' https://cdn.example.com 'nonce-abc123'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; upgrade-insecure-requests; report-uri https://example.com/csp",
        "max-age=63072000; includeSubDomains; preload",
        "<html><body><h1>404 Not Found</h1></body></html>",
        r#"{"error":"invalid_request","error_description":"missing client_id"}"#,
        "",
    ] {
        assert_clean(t);
    }
}

// ---------------------------------------------------------------------------
// Ordering, positions and API consistency.

#[test]
fn scan_is_sorted_and_deterministic() {
    let t = format!("{WILD_APIGW_ROLE}\n{WILD_APIGW_ANON}\n{WILD_STS}\nstack at /app/x.js:1:2");
    let a = set().scan(t.as_bytes());
    let b = set().scan(t.as_bytes());
    assert_eq!(a, b);
    assert!(a.len() > 8);
    for w in a.windows(2) {
        let key = |m: &LeakMatch| (m.start, m.detector.clone(), m.end);
        assert!(key(&w[0]) <= key(&w[1]), "{:?} before {:?}", w[0], w[1]);
    }
    // A fresh set built with custom detectors orders the built-ins the same.
    let c = DetectorSet::with_custom(&[CustomDetector {
        name: "never".into(),
        pattern: "zzzzqqqq".into(),
    }])
    .unwrap()
    .scan(t.as_bytes());
    assert_eq!(a, c);
}

#[test]
fn overlapping_rules_of_one_detector_merge() {
    // Two rules of stack-trace-node hit overlapping text; one span results.
    let t = "at Module._compile (/app/x.js:1:2)";
    let node: Vec<_> = set()
        .scan(t.as_bytes())
        .into_iter()
        .filter(|m| m.detector == "stack-trace-node")
        .collect();
    assert_eq!(node.len(), 1);
    assert_eq!(&t[node[0].range()], t);
}

#[test]
fn first_agrees_with_scan() {
    let cases = [
        WILD_APIGW_ANON,
        WILD_APIGW_ROLE,
        WILD_STS,
        WILD_SIGV4,
        WILD_WAF,
        "at Module._compile (/app/x.js:1:2) then 10.0.0.1",
        "nothing here",
    ];
    for t in cases {
        assert_eq!(
            set().first(t.as_bytes()),
            set().scan(t.as_bytes()).into_iter().next(),
            "{t}"
        );
        assert_eq!(
            set().is_leaky(t.as_bytes()),
            !set().scan(t.as_bytes()).is_empty()
        );
        // `which` names a detector that `scan` also reports, exactly when there is one.
        let found: Vec<String> = set()
            .scan(t.as_bytes())
            .into_iter()
            .map(|m| m.detector.as_str().to_owned())
            .collect();
        match set().which(t.as_bytes()) {
            Some(id) => assert!(
                found.iter().any(|f| f == id.as_str()),
                "{t}: {}",
                id.as_str()
            ),
            None => assert!(found.is_empty(), "{t}"),
        }
    }
}

#[test]
fn arn_position_is_exact() {
    let t = WILD_APIGW_ANON.as_bytes();
    let m = set()
        .scan(t)
        .into_iter()
        .find(|m| m.detector == "aws-arn")
        .unwrap();
    let expected = b"arn:aws:execute-api:us-west-2:********2543:vd2gh6uqw3/api/GET/";
    assert_eq!(&t[m.start..m.end], expected);
    let at = WILD_APIGW_ANON.find("arn:").unwrap();
    assert_eq!((m.start, m.end), (at, at + expected.len()));
}

// ---------------------------------------------------------------------------
// Custom detectors.

#[test]
fn custom_detectors_report_custom_ids() {
    let s = DetectorSet::with_custom(&[
        CustomDetector {
            name: "ticket".into(),
            pattern: r"\bTICKET-[0-9]{4,}\b".into(),
        },
        CustomDetector {
            name: "host".into(),
            pattern: r"(?i)\bdb-(?P<m>primary)\b".into(),
        },
    ])
    .unwrap();
    let ids: Vec<&str> = s.ids().collect();
    assert!(ids.contains(&"custom:ticket") && ids.contains(&"custom:host"));
    assert!(ids.contains(&"aws-arn"));

    let t = "see TICKET-12345 on DB-Primary";
    let m = s.scan(t.as_bytes());
    let got: Vec<(&str, &str)> = m
        .iter()
        .map(|m| (m.detector.as_str(), &t[m.range()]))
        .collect();
    assert_eq!(
        got,
        [
            ("custom:ticket", "TICKET-12345"),
            ("custom:host", "Primary")
        ]
    );
    assert!(m.iter().all(|m| m.detector.is_custom()));
    assert!(s.is_leaky(t.as_bytes()));
    assert!(!DetectorSet::builtin().is_leaky(t.as_bytes()));
    assert_eq!(s.first(t.as_bytes()).unwrap().detector, "custom:ticket");
}

#[test]
fn custom_unicode_pattern() {
    let s = DetectorSet::with_custom(&[CustomDetector {
        name: "greek".into(),
        pattern: r"\bαβγ\b".into(),
    }])
    .unwrap();
    let t = "x αβγ y";
    let m = s.first(t.as_bytes()).unwrap();
    assert_eq!(&t[m.range()], "αβγ");
}

#[test]
fn custom_zero_width_matches_are_ignored() {
    // `\b` alone can only match empty; it must not make everything leaky.
    let s = DetectorSet::with_custom(&[CustomDetector {
        name: "edge".into(),
        pattern: r"\b".into(),
    }])
    .unwrap();
    assert!(!s.is_leaky(b"hello world"));
    assert!(s.scan(b"hello world").is_empty());
    assert!(s.first(b"hello world").is_none());
}

#[test]
fn custom_errors() {
    let bad = DetectorSet::with_custom(&[CustomDetector {
        name: "broken-one".into(),
        pattern: "foo(".into(),
    }])
    .unwrap_err();
    assert!(matches!(&bad, LeakError::InvalidRegex { name, .. } if name == "broken-one"));
    let msg = bad.to_string();
    assert!(msg.contains("broken-one"), "{msg}");
    assert!(msg.contains("unclosed group"), "{msg}");

    assert!(matches!(
        DetectorSet::with_custom(&[CustomDetector {
            name: " ".into(),
            pattern: "x".into(),
        }]),
        Err(LeakError::EmptyName)
    ));
    let dup = DetectorSet::with_custom(&[
        CustomDetector {
            name: "a".into(),
            pattern: "x".into(),
        },
        CustomDetector {
            name: "a".into(),
            pattern: "y".into(),
        },
    ])
    .unwrap_err();
    assert!(matches!(&dup, LeakError::DuplicateName { name } if name == "a"));
    assert!(dup.to_string().contains("\"a\""));

    assert!(matches!(
        DetectorSet::with_custom(&[CustomDetector {
            name: "all".into(),
            pattern: "x*".into(),
        }]),
        Err(LeakError::MatchesEmpty { name }) if name == "all"
    ));
    assert!(matches!(
        DetectorSet::with_custom(&[CustomDetector {
            name: "a\nb".into(),
            pattern: "x".into(),
        }]),
        Err(LeakError::InvalidName { .. })
    ));
    // Oversized user patterns are refused, not compiled into a huge DFA.
    let huge = DetectorSet::with_custom(&[CustomDetector {
        name: "huge".into(),
        pattern: r"\w{1000}{1000}".into(),
    }])
    .unwrap_err();
    assert!(matches!(&huge, LeakError::InvalidRegex { name, .. } if name == "huge"));
}

#[test]
fn with_no_custom_is_builtin() {
    let s = DetectorSet::with_custom(&[]).unwrap();
    assert!(Arc::ptr_eq(&s.inner, &DetectorSet::builtin().inner));
}

// ---------------------------------------------------------------------------
// Robustness.

#[test]
fn invalid_utf8_does_not_panic() {
    let mut t = Vec::new();
    t.extend_from_slice(
        b"\xff\xfe\x80 arn:aws:iam::123456789012:role/\xc3x \xe2\x82 10.0.0.1 \xf0\x9f",
    );
    t.extend_from_slice(&[0x80; 64]);
    t.extend_from_slice(b"Traceback (most recent call last)\xff");
    let s = set();
    let found = s.scan(&t);
    assert!(found.iter().any(|m| m.detector == "aws-arn"));
    assert!(found.iter().any(|m| m.detector == "private-ipv4"));
    assert!(found.iter().any(|m| m.detector == "stack-trace-python"));
    assert!(s.is_leaky(&t));
    for m in &found {
        let r = redact(&t, m);
        assert!(r.contains("redacted"));
    }
    // Every prefix, to hit boundaries mid-character.
    for i in 0..t.len() {
        let _ = s.scan(&t[..i]);
        let _ = s.first(&t[i..]);
    }
}

/// Deterministic pseudo-random printable text, with no external RNG crate.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the", "request", "id", "user", "error", "value", "json", "ok", "a", "of", "to", "is",
        "page", "42", "{", "}", ":", "\"", ",", "null", "true", "field", "x-y", "2024",
    ];
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(WORDS[(state % WORDS.len() as u64) as usize].as_bytes());
        out.push(if state & 0x30 == 0 { b'\n' } else { b' ' });
    }
    out.truncate(len);
    out
}

#[test]
fn one_mib_haystack() {
    let s = set();
    let mut t = noise(1 << 20, 0x9e37_79b9_7f4a_7c15);
    assert!(!s.is_leaky(&t), "{:?}", s.first(&t));
    assert!(s.scan(&t).is_empty());

    let arn = b"arn:aws:iam::123456789012:role/deep";
    let at = t.len() - 1000;
    t[at - 1] = b' ';
    t[at..at + arn.len()].copy_from_slice(arn);
    t[at + arn.len()] = b' ';
    assert!(s.is_leaky(&t));
    let m = s.first(&t).unwrap();
    assert_eq!(m.detector, "aws-arn");
    assert_eq!(&t[m.range()], arn);

    // Arbitrary bytes, including invalid UTF-8, do not panic.
    let bytes: Vec<u8> = noise(1 << 20, 7)
        .iter()
        .enumerate()
        .map(|(i, b)| b.wrapping_mul(i as u8 | 1))
        .collect();
    let _ = s.scan(&bytes);
    let _ = s.is_leaky(&bytes);
}

/// Ordinary error bodies and response header values seen on healthy sites.
#[test]
fn ordinary_bodies_and_headers_are_clean() {
    for t in [
        "Mon, 15 Jan 2024 10:30:00 GMT",
        "\"33a64df551425fcc55e4d42a148795d9f25f89d4\"",
        "application/json; charset=utf-8",
        "session=abc123; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=3600",
        "Root=1-65a4f5c2-3b1f0e7a4c2d1e0f9a8b7c6d;Parent=53995c3f42cd8ad8;Sampled=1",
        "camera=(), microphone=(), geolocation=(self \"https://example.com\")",
        "no-store, no-cache, must-revalidate, max-age=0",
        "nosniff",
        "DENY",
        "strict-origin-when-cross-origin",
        "same-origin",
        "require-corp",
        "W/\"5e15153d-120f\"",
        "bytes 0-1023/146515",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        r#"{"type":"https://example.com/probs/out-of-credit","title":"You do not have enough credit.","detail":"Your current balance is 30, but that costs 50.","instance":"/account/12345/msgs/abc","balance":30}"#,
        r#"{"errors":[{"status":"422","source":{"pointer":"/data/attributes/firstName"},"title":"Invalid Attribute","detail":"First name must contain at least two characters."}]}"#,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title></head><body><pre>Cannot GET /api/users/42</pre></body></html>",
        r#"{"statusCode":404,"message":"Cannot GET /v1/items","error":"Not Found"}"#,
        r#"{"timestamp":"2024-01-15T10:30:00.000+00:00","status":404,"error":"Not Found","path":"/api/x"}"#,
        r#"{"requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","code":429,"message":"Too Many Requests"}"#,
        "Service Unavailable",
        "Bad Gateway",
        "Gateway Timeout",
        "Too Many Requests",
        r#"{"message":"Request failed with status code 500"}"#,
        "price: 1234.567890123456",
        "id=123456789012345678",
        "Please contact support at help@example.com or +1 (555) 010-0000.",
    ] {
        assert_clean(t);
    }
}

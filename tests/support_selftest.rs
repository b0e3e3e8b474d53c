//! Tests of the test support itself: the origin, driven through the helpers.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::support::origin::{ENDLESS_CHUNK, STREAM_CHUNK, parse_query, pattern_byte};
use crate::support::{
    OriginBody, RawConn, TestOrigin, h2c_client, h2c_get, http_client, raw_exchange, ws_connect,
};

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: origin.test\r\n\r\n").into_bytes()
}

#[test]
fn query_values_are_percent_decoded() {
    let params = parse_query("a=x%3Ay+z&b=%zz%4&c&header=K%3A%20v:w");
    assert_eq!(
        params,
        vec![
            ("a".into(), "x:y z".into()),
            ("b".into(), "%zz%4".into()),
            ("c".into(), String::new()),
            ("header".into(), "K: v:w".into()),
        ]
    );
}

#[tokio::test]
async fn status_headers_and_duplicate_headers() {
    let origin = TestOrigin::start().await;
    let resp = raw_exchange(
        origin.addr(),
        &get("/x?status=418&header=X-One:a&header=X-Dup:1&header=X-Dup:2&header=X-Url:http%3A%2F%2Fh%3A1&body=hi+there"),
    )
    .await;
    assert_eq!(resp.status, 418);
    assert_eq!(resp.header("x-one"), Some("a"));
    assert_eq!(resp.header_all("X-DUP"), vec!["1", "2"]);
    assert_eq!(resp.header_count("x-dup"), 2);
    assert_eq!(resp.header("x-url"), Some("http://h:1"));
    assert_eq!(resp.header("content-length"), Some("8"));
    assert_eq!(resp.body, b"hi there");
    assert!(!resp.is_chunked());
}

#[tokio::test]
async fn default_is_empty_200() {
    let origin = TestOrigin::start().await;
    let resp = http_client().get(origin.url()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().len(), 0);
}

#[tokio::test]
async fn chunks_arrive_as_separate_chunks() {
    let origin = TestOrigin::start().await;
    let resp = raw_exchange(origin.addr(), &get("/c?chunks=alpha|be|gamma%7C")).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    assert_eq!(resp.header("content-length"), None);
    assert_eq!(resp.chunk_sizes, Some(vec![5, 2, 6]));
    assert_eq!(resp.body, b"alphabegamma|");
}

#[tokio::test]
async fn body_size_has_content_length() {
    let origin = TestOrigin::start().await;
    let resp = raw_exchange(origin.addr(), &get("/?body_size=100000")).await;
    assert_eq!(resp.header("content-length"), Some("100000"));
    assert_eq!(resp.body.len(), 100_000);
    assert!(resp.body.iter().all(|&b| b == b'x'));
}

#[tokio::test]
async fn stream_bytes_counts_exactly() {
    const LEN: u64 = 10 * 1024 * 1024 + 7;
    let origin = TestOrigin::start().await;
    let mut resp = http_client()
        .get(format!("{}/big?stream_bytes={LEN}", origin.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), None);
    let mut seen = 0u64;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        assert!(chunk.len() <= STREAM_CHUNK);
        for (i, &b) in chunk.iter().enumerate() {
            assert_eq!(b, pattern_byte(seen + i as u64));
        }
        seen += chunk.len() as u64;
    }
    assert_eq!(seen, LEN);
}

#[tokio::test]
async fn endless_streams_until_the_client_leaves() {
    let origin = TestOrigin::start().await;
    let mut resp = http_client()
        .get(format!("{}/?endless=1", origin.url()))
        .send()
        .await
        .unwrap();
    let mut seen = 0usize;
    while seen < 20 * ENDLESS_CHUNK {
        seen += resp.chunk().await.unwrap().unwrap().len();
    }
    drop(resp);
    // The origin must still serve others after that client went away.
    let again = raw_exchange(origin.addr(), &get("/?body=ok")).await;
    assert_eq!(again.body, b"ok");
}

#[tokio::test]
async fn echo_reports_and_records_the_request() {
    let origin = TestOrigin::start().await;
    let req = b"POST /e?echo=1 HTTP/1.1\r\nHost: origin.test\r\nX-Trace: one\r\nX-Trace: two\r\nContent-Length: 5\r\n\r\nhello";
    let resp = raw_exchange(origin.addr(), req).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(json["method"], "POST");
    assert_eq!(json["uri"], "/e?echo=1");
    assert_eq!(json["version"], "HTTP/1.1");
    assert_eq!(json["body_len"], 5);
    let headers = json["headers"].as_array().unwrap();
    let traces: Vec<&str> = headers
        .iter()
        .filter(|h| h[0] == "x-trace")
        .map(|h| h[1].as_str().unwrap())
        .collect();
    assert_eq!(traces, vec!["one", "two"]);
    assert_eq!(headers[0][0], "host");

    let recorded = origin.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].method, http::Method::POST);
    assert_eq!(recorded[0].uri, "/e?echo=1");
    assert_eq!(recorded[0].version, http::Version::HTTP_11);
    assert_eq!(recorded[0].body_len, 5);
    let traces: Vec<_> = recorded[0].headers.get_all("x-trace").iter().collect();
    assert_eq!(traces, vec!["one", "two"]);
}

#[tokio::test]
async fn chunked_request_body_is_counted() {
    let origin = TestOrigin::start().await;
    let req = b"POST /?echo=1 HTTP/1.1\r\nHost: o\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
    let resp = raw_exchange(origin.addr(), req).await;
    let json: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(json["body_len"], 7);
    assert_eq!(origin.last_request().unwrap().body_len, 7);
}

#[tokio::test]
async fn keep_alive_reuses_one_connection() {
    let origin = TestOrigin::start().await;
    let mut conn = RawConn::connect(origin.addr()).await;
    // Both requests in one write: the second response must come from the
    // bytes left over after the first.
    let mut both = get("/1?body=first");
    both.extend(get("/2?chunks=se|cond"));
    conn.send(&both).await;
    let first = conn.read_response().await;
    let second = conn.read_response().await;
    assert_eq!(first.body, b"first");
    assert_eq!(second.body, b"second");
    conn.send(&get("/3?status=204")).await;
    assert_eq!(conn.read_response().await.status, 204);
    assert_eq!(origin.connections_accepted(), 1);
    assert_eq!(origin.requests().len(), 3);

    conn.send(b"GET / HTTP/1.1\r\nHost: o\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(conn.read_response().await.status, 200);
    assert!(conn.is_closed_by_peer().await);
}

#[tokio::test]
async fn head_response_has_no_body() {
    let origin = TestOrigin::start().await;
    let resp = raw_exchange(
        origin.addr(),
        b"HEAD /?body=abcdef HTTP/1.1\r\nHost: o\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 200);
    assert!(resp.body.is_empty());
    assert_eq!(origin.last_request().unwrap().method, http::Method::HEAD);
}

#[tokio::test]
async fn h2c_prior_knowledge() {
    let origin = TestOrigin::start().await;
    let resp = h2c_get(
        origin.addr(),
        "/h2?header=X-A:b&body=over+h2",
        &[("x-client", "yes")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.headers()["x-a"], "b");
    assert_eq!(resp.body(), "over h2");
    let recorded = origin.last_request().unwrap();
    assert_eq!(recorded.version, http::Version::HTTP_2);
    assert_eq!(recorded.header("x-client"), Some("yes"));

    let resp = h2c_client()
        .get(format!("{}/?chunks=a|b", origin.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.bytes().await.unwrap(), "ab");
}

#[tokio::test]
async fn websocket_echo() {
    let origin = TestOrigin::start().await;
    let mut ws = ws_connect(origin.addr(), "/ws").await;
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello"));
    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::binary(vec![0u8, 1, 2, 255])
    );
    ws.close(None).await.unwrap();
    // The origin acknowledges the close, then the stream ends.
    while let Some(msg) = ws.next().await {
        assert!(matches!(msg, Ok(Message::Close(_))), "{msg:?}");
    }
    assert_eq!(origin.requests()[0].uri, "/ws");
}

#[tokio::test]
async fn websocket_with_tungstenite_client_async() {
    let origin = TestOrigin::start().await;
    let stream = TcpStream::connect(origin.addr()).await.unwrap();
    let (mut ws, resp) =
        tokio_tungstenite::client_async(format!("ws://{}/ws", origin.addr()), stream)
            .await
            .unwrap();
    assert_eq!(resp.status(), 101);
    ws.send(Message::text("ping?")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("ping?"));
}

#[tokio::test]
async fn ws_path_without_upgrade_is_426() {
    let origin = TestOrigin::start().await;
    let resp = raw_exchange(origin.addr(), &get("/ws")).await;
    assert_eq!(resp.status, 426);
}

#[tokio::test]
async fn raw_upgrade_echoes_bytes() {
    let origin = TestOrigin::start().await;
    let mut conn = RawConn::connect(origin.addr()).await;
    conn.send(
        b"GET /upgrade-raw HTTP/1.1\r\nHost: o\r\nConnection: upgrade\r\nUpgrade: x-echo\r\n\r\n",
    )
    .await;
    let resp = conn.read_head_response().await;
    assert_eq!(resp.status, 101);
    assert_eq!(resp.header("upgrade"), Some("x-echo"));
    let (mut stream, leftover) = conn.into_inner();
    assert!(leftover.is_empty());
    stream.write_all(b"raw bytes \x00\xff").await.unwrap();
    let mut back = [0u8; 12];
    stream.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"raw bytes \x00\xff");
    stream.shutdown().await.unwrap();
    // The echo half-closes in turn once our side is done.
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}

#[tokio::test]
async fn delay_head_still_answers() {
    let origin = TestOrigin::start().await;
    let started = Instant::now();
    let resp = raw_exchange(origin.addr(), &get("/?delay_head_ms=100&body=late")).await;
    assert_eq!(resp.body, b"late");
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn custom_handler_sees_collected_body() {
    let origin = TestOrigin::start_with(|req| {
        let mut resp = http::Response::new(OriginBody::chunks(vec![
            Bytes::from_static(b"got "),
            Bytes::from(req.body().len().to_string()),
        ]));
        *resp.status_mut() = http::StatusCode::CREATED;
        resp
    })
    .await;
    let resp = http_client()
        .post(format!("{}/anything", origin.url()))
        .body("0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.text().await.unwrap(), "got 10");
    assert_eq!(origin.last_request().unwrap().body_len, 10);
}

#[tokio::test]
async fn aborted_body_is_not_terminated() {
    let origin = TestOrigin::start_with(|_| {
        http::Response::new(OriginBody::chunks_then_abort(vec![Bytes::from_static(
            b"partial",
        )]))
    })
    .await;
    let resp = http_client().get(origin.url()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.is_err());
}

#[tokio::test]
async fn shutdown_closes_listener_and_connections() {
    let origin = TestOrigin::start().await;
    let addr = origin.addr();
    let mut conn = RawConn::connect(addr).await;
    conn.send(&get("/?body=x")).await;
    assert_eq!(conn.read_response().await.body, b"x");
    origin.shutdown().await;
    assert!(conn.is_closed_by_peer().await);
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn channel_body_is_paced_by_the_test() {
    let (tx, body) = OriginBody::channel(1);
    let body = std::sync::Mutex::new(Some(body));
    let origin = TestOrigin::start_with(move |_| {
        http::Response::new(
            body.lock()
                .unwrap()
                .take()
                .unwrap_or_else(OriginBody::empty),
        )
    })
    .await;
    let mut resp = http_client().get(origin.url()).send().await.unwrap();
    tx.send(Bytes::from_static(b"one")).await.unwrap();
    assert_eq!(resp.chunk().await.unwrap().unwrap(), "one");
    tx.send(Bytes::from_static(b"two")).await.unwrap();
    drop(tx);
    assert_eq!(resp.chunk().await.unwrap().unwrap(), "two");
    assert!(resp.chunk().await.unwrap().is_none());
}

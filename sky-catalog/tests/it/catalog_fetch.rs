//! The managed catalog cache: download, refresh and offline behaviour, against a local HTTP
//! server on 127.0.0.1 and a temporary directory (no external network).
#![cfg(feature = "fetch")]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sky_catalog::{CatalogSource, GcpCatalog};
use sky_core::CloudId;
use sky_core::catalog::{Catalog, CatalogError};
use sky_core::resources::Resources;

const HEADER: &str = "InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice\n";

fn body(price: &str) -> String {
    format!("{HEADER}n2-standard-8,8.0,32.0,,,,us-central1,us-central1-a,{price},0.1\n")
}

/// A tiny HTTP server serving `<anything>/gcp/vms.csv`, counting requests. It lives until the test process ends.
struct Server {
    url: String,
    hits: Arc<AtomicUsize>,
    body: Arc<Mutex<String>>,
}

fn handle(mut stream: TcpStream, hits: &AtomicUsize, body: &Mutex<String>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    let _ = reader.read_line(&mut request_line);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let (status, content) = if path.ends_with("/gcp/vms.csv") {
        ("200 OK", body.lock().unwrap().clone())
    } else {
        ("404 Not Found", "not found".to_string())
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: text/csv\r\nConnection: close\r\n\r\n{content}",
        content.len()
    );
}

fn serve(initial: &str) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/catalogs/v8", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let body = Arc::new(Mutex::new(initial.to_string()));
    let (h, b) = (hits.clone(), body.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            handle(stream, &h, &b);
        }
    });
    Server { url, hits, body }
}

/// A URL on which nothing listens.
fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/catalogs/v8")
}

fn age(path: &Path, by: Duration) {
    let f = std::fs::File::options().append(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - by).unwrap();
}

fn price_of(c: &GcpCatalog) -> f64 {
    let mut r = Resources::new();
    r.instance_type = Some("n2-standard-8".into());
    c.offerings(&r).offerings[0].hourly_price
}

const STALE: Duration = Duration::from_secs(8 * 3600);

#[test]
fn missing_is_downloaded_fresh_is_not_refetched() {
    let server = serve(&body("0.5"));
    let tmp = tempfile::tempdir().unwrap();
    let source = CatalogSource::new()
        .cache_dir(tmp.path())
        .base_url(&server.url);
    let c = GcpCatalog::load(&source).unwrap();
    assert_eq!(price_of(&c), 0.5);
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    let file = tmp.path().join("gcp/vms.csv");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), body("0.5"));
    let meta = std::fs::read_to_string(tmp.path().join(".meta/gcp/vms.csv.sha256")).unwrap();
    assert_eq!(meta.len(), 64);

    *server.body.lock().unwrap() = body("0.6");
    let c = GcpCatalog::load(&source).unwrap();
    assert_eq!(price_of(&c), 0.5, "fresh cache: no request");
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
}

#[test]
fn stale_unedited_is_refetched_stale_edited_is_kept() {
    let server = serve(&body("0.5"));
    let tmp = tempfile::tempdir().unwrap();
    let source = CatalogSource::new()
        .cache_dir(tmp.path())
        .base_url(&server.url);
    GcpCatalog::load(&source).unwrap();
    let file = tmp.path().join("gcp/vms.csv");

    *server.body.lock().unwrap() = body("0.6");
    age(&file, STALE);
    let c = GcpCatalog::load(&source).unwrap();
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    assert_eq!(price_of(&c), 0.6, "refreshed");

    // The user edits the file; even when stale it is never overwritten.
    std::fs::write(&file, body("0.42")).unwrap();
    age(&file, STALE);
    let c = GcpCatalog::load(&source).unwrap();
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    assert_eq!(price_of(&c), 0.42);

    // A file with no download record (placed by hand, or SkyPilot's) is not refreshed either.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(other.path().join("gcp")).unwrap();
    std::fs::write(other.path().join("gcp/vms.csv"), body("0.7")).unwrap();
    age(&other.path().join("gcp/vms.csv"), STALE);
    let source = CatalogSource::new()
        .cache_dir(other.path())
        .base_url(&server.url);
    assert_eq!(price_of(&GcpCatalog::load(&source).unwrap()), 0.7);
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
}

#[test]
fn server_down_uses_the_cache_or_reports_offline() {
    let server = serve(&body("0.5"));
    let tmp = tempfile::tempdir().unwrap();
    GcpCatalog::load(
        &CatalogSource::new()
            .cache_dir(tmp.path())
            .base_url(&server.url),
    )
    .unwrap();
    let file = tmp.path().join("gcp/vms.csv");
    age(&file, STALE);

    let down = CatalogSource::new()
        .cache_dir(tmp.path())
        .base_url(dead_url());
    let c = GcpCatalog::load(&down).unwrap();
    assert_eq!(price_of(&c), 0.5, "cached file used");
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
    let age_now = SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default();
    assert!(
        age_now < Duration::from_secs(3600),
        "touched, so the next load does not retry"
    );

    let empty = tempfile::tempdir().unwrap();
    let down = CatalogSource::new()
        .cache_dir(empty.path())
        .base_url(dead_url());
    match GcpCatalog::load(&down) {
        Err(CatalogError::Offline { cloud, dir, reason }) => {
            assert_eq!(cloud, "gcp");
            assert_eq!(dir, empty.path());
            assert!(reason.contains("GET"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!empty.path().join("gcp/vms.csv").exists());

    // Offline mode never asks; a 404 is a failed download too.
    let offline = CatalogSource::new()
        .cache_dir(empty.path())
        .base_url(&server.url)
        .offline(true);
    assert!(matches!(
        GcpCatalog::load(&offline),
        Err(CatalogError::Offline { .. })
    ));
    let hits = server.hits.load(Ordering::SeqCst);
    let e = sky_catalog::load(
        &CatalogSource::new()
            .cache_dir(empty.path())
            .base_url(&server.url),
        &[CloudId::Aws],
    )
    .unwrap_err();
    assert!(
        matches!(e, CatalogError::Offline { ref cloud, .. } if cloud == "aws"),
        "{e}"
    );
    assert_eq!(server.hits.load(Ordering::SeqCst), hits + 1);
}

#[test]
fn catalogs_load_downloads_catalogs() {
    let server = serve(&body("0.5"));
    let tmp = tempfile::tempdir().unwrap();
    let source = CatalogSource::new()
        .cache_dir(tmp.path())
        .base_url(&server.url);
    let cs = sky_catalog::load(&source, &[CloudId::Gcp]).unwrap();
    assert_eq!(cs.clouds(), [CloudId::Gcp]);
    assert!(tmp.path().join("gcp/vms.csv").is_file());
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
}

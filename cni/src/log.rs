//! Logging: tracing to stderr (the runtime's log) and, when the config says so, to a file.
//! Level: VROUTER_CNI_LOG, else the config's `log-level`, else info. TF's numeric levels
//! are accepted (0 off, 1 error, 2 warn, 3 info, 4 debug, 5 trace).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Parses a level name or TF number; None when unknown.
pub fn parse_level(s: &str) -> Option<LevelFilter> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "off" | "none" | "0" => LevelFilter::OFF,
        "error" | "err" | "1" => LevelFilter::ERROR,
        "warn" | "warning" | "2" => LevelFilter::WARN,
        "info" | "3" => LevelFilter::INFO,
        "debug" | "4" => LevelFilter::DEBUG,
        "trace" | "5" | "6" | "7" => LevelFilter::TRACE,
        _ => return None,
    })
}

#[derive(Clone)]
struct Tee {
    file: Option<Arc<Mutex<File>>>,
}

struct TeeWriter {
    file: Option<Arc<Mutex<File>>>,
}

impl Write for TeeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = io::stderr().write_all(buf);
        if let Some(f) = &self.file {
            if let Ok(mut f) = f.lock() {
                let _ = f.write_all(buf);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Tee {
    type Writer = TeeWriter;
    fn make_writer(&'a self) -> TeeWriter {
        TeeWriter {
            file: self.file.clone(),
        }
    }
}

/// Installs the subscriber (once; later calls do nothing).
pub fn init(level: Option<&str>, log_file: Option<&str>) {
    let level = std::env::var("VROUTER_CNI_LOG")
        .ok()
        .and_then(|s| parse_level(&s))
        .or_else(|| level.and_then(parse_level))
        .unwrap_or(LevelFilter::INFO);
    let file = log_file.and_then(|p| {
        if let Some(dir) = std::path::Path::new(p).parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        match OpenOptions::new().create(true).append(true).open(p) {
            Ok(f) => Some(Arc::new(Mutex::new(f))),
            Err(e) => {
                eprintln!("vrouter-cni: cannot open log file {p}: {e}");
                None
            }
        }
    });
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_target(false)
        .with_writer(Tee { file })
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(parse_level("debug"), Some(LevelFilter::DEBUG));
        assert_eq!(parse_level("WARNING"), Some(LevelFilter::WARN));
        assert_eq!(parse_level("4"), Some(LevelFilter::DEBUG));
        assert_eq!(parse_level("loud"), None);
    }
}

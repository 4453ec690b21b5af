//! Logging set-up: env_logger on stderr, filtered by `FTPFS_LOG` (env_logger syntax), with
//! `--debug` raising the default level.
//!
//! suppaftp logs every control-channel line at trace level, including `PASS`. Its level is
//! therefore capped at debug whatever the filter says, so a password never reaches a log.

pub fn init(debug: bool) {
    let default = if debug { "debug" } else { "warn" };
    let filter = std::env::var("FTPFS_LOG").unwrap_or_else(|_| default.to_string());
    env_logger::Builder::new()
        .parse_filters(&filter)
        // Applied last, so it overrides any `suppaftp=trace` or bare `trace` in the filter.
        .filter_module("suppaftp", log::LevelFilter::Debug.min(max_level(&filter)))
        .format_timestamp_millis()
        .init();
}

/// The most verbose level mentioned in a filter string (default warn).
fn max_level(filter: &str) -> log::LevelFilter {
    filter
        .split(',')
        .filter_map(|part| part.rsplit('=').next())
        .filter_map(|lvl| lvl.trim().parse::<log::LevelFilter>().ok())
        .max()
        .unwrap_or(log::LevelFilter::Warn)
}

#[cfg(test)]
mod tests {
    #[test]
    fn max_level_of_filters() {
        use log::LevelFilter::*;
        assert_eq!(super::max_level("trace"), Trace);
        assert_eq!(super::max_level("warn,ftpfs=debug"), Debug);
        assert_eq!(super::max_level("nonsense"), Warn);
    }
}

//! Small display helpers the templates call: sizes, times, label counts. Formatting only; the data
//! comes from [`super::snapshot`].

use crate::registry::PlatformImage;

use super::snapshot::display_time;

/// `1536` → `1.5 KiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Display methods for a platform's image.
pub trait PlatformDisplay {
    /// The size, human-readable.
    fn size_text(&self) -> String;
    /// `created`, to the second, or empty.
    fn created_text(&self) -> String;
    /// `1 label`, `3 labels`.
    fn label_summary(&self) -> String;
}

impl PlatformDisplay for PlatformImage {
    fn size_text(&self) -> String {
        human_size(self.size)
    }

    fn created_text(&self) -> String {
        self.created
            .as_deref()
            .map(display_time)
            .unwrap_or_default()
    }

    fn label_summary(&self) -> String {
        match self.labels.len() {
            1 => "1 label".to_string(),
            count => format!("{count} labels"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(30 * 1024 * 1024), "30.0 MiB");
        assert_eq!(human_size(u64::MAX), "16777216.0 TiB");
    }
}

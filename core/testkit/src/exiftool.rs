//! ExifTool (Debian's `libimage-exiftool-perl`, installed by `scripts/install-exiftool.sh`)
//! as the independent judge of what metadata a picture carries: the privacy tests write
//! tags into real photos with it and read served pictures back with it, never with our
//! own parser.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// The tags the privacy tests write: where, with what camera (and its serial), when, who.
pub const PRIVATE_TAGS: &[&str] = &[
    "GPSLatitude",
    "GPSLongitude",
    "GPSAltitude",
    "Make",
    "Model",
    "SerialNumber",
    "DateTimeOriginal",
    "CreateDate",
    "Artist",
    "Creator",
    "By-line",
];

fn exiftool() -> Command {
    let found = Command::new("exiftool")
        .arg("-ver")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "exiftool is required for the privacy tests: run scripts/install-exiftool.sh \
         (Debian package libimage-exiftool-perl)"
    );
    Command::new("exiftool")
}

/// Writes GPS position, camera make/model/serial, dates, artist (EXIF), creator (XMP) and
/// by-line (IPTC) into the picture at `path`, and `extra` exiftool arguments (such as
/// `-Orientation#=6`).
pub fn write_private_tags(path: &Path, extra: &[&str]) {
    let out = exiftool()
        .args([
            "-q",
            "-overwrite_original",
            "-GPSLatitude=48.858370",
            "-GPSLatitudeRef=N",
            "-GPSLongitude=2.294481",
            "-GPSLongitudeRef=E",
            "-GPSAltitude=35",
            "-Make=Postagram Test Camera Co",
            "-Model=PTC One",
            "-SerialNumber=SN-0042-7777",
            "-DateTimeOriginal=2024:05:01 12:34:56",
            "-CreateDate=2024:05:01 12:34:56",
            "-Artist=Alice Example",
            "-XMP-dc:Creator=Alice Example",
            "-IPTC:By-line=Alice Example",
        ])
        .args(extra)
        .arg(path)
        .output()
        .expect("run exiftool");
    assert!(
        out.status.success(),
        "exiftool could not write tags: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The tag names exiftool finds in `bytes` (read from stdin, `-s`: short names).
pub fn tag_names(bytes: &[u8]) -> Vec<String> {
    let mut child = exiftool()
        .args(["-s", "-G1", "-a", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run exiftool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("feed exiftool");
    let out = child.wait_with_output().expect("exiftool output");
    assert!(
        out.status.success(),
        "exiftool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let rest = line.split_once(']')?.1;
            Some(rest.split_once(':')?.0.trim().to_string())
        })
        .collect()
}

/// The [`PRIVATE_TAGS`] exiftool finds in `bytes`.
pub fn private_tags(bytes: &[u8]) -> Vec<String> {
    tag_names(bytes)
        .into_iter()
        .filter(|t| PRIVATE_TAGS.contains(&t.as_str()))
        .collect()
}

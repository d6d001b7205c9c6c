//! The HTML reports open in a real browser: headless Chromium lays each report out, a script
//! in a copy of the page reads every SVG figure's box (getBoundingClientRect, through
//! `--dump-dom`), a screenshot of the whole page is decoded (`png`) and each figure's box must
//! hold the figure's coloured marks (bars), not an empty frame. A blank figure of the same size
//! is checked the same way and must fail, so the check can fail.
//!
//! Chromium comes from `scripts/ensure-deps.sh` (`apt-get install -y chromium`); the test fails
//! with that hint when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use cutover_engine::report::Format;

use super::report_golden::{DAILY, FINAL, WEEKLY, render};

const WIDTH: u32 = 1200;

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            && out.status.success()
        {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!(
        "headless Chromium is needed for this test and is not installed: run scripts/ensure-deps.sh (or apt-get install -y chromium)"
    );
}

/// Chromium's arguments for one throwaway profile, without a sandbox (tests may run as root).
fn browser(profile: &Path) -> Command {
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--no-first-run",
        "--disable-extensions",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

const PROBE: &str = "<script>document.title = JSON.stringify({figures: [...document.querySelectorAll('svg')].map(s => { const r = s.getBoundingClientRect(); return [r.left + scrollX, r.top + scrollY, r.width, r.height]; }), height: document.documentElement.scrollHeight});</script>";

/// The page with the probe, its figures' boxes (x, y, w, h in CSS pixels) and its height.
fn layout(dir: &Path, name: &str, html: &str) -> (PathBuf, Vec<[f64; 4]>, u32) {
    let page = dir.join(format!("{name}.html"));
    let probed = html.replacen("</body>", &format!("{PROBE}</body>"), 1);
    assert_ne!(probed, html, "{name}: no </body>");
    std::fs::write(&page, probed).unwrap();
    let out = browser(&dir.join(format!("profile-{name}")))
        .arg(format!("--window-size={WIDTH},900"))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: chromium --dump-dom failed: {out:?}"
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let title = dom
        .split_once("<title>")
        .and_then(|(_, t)| t.split_once("</title>"))
        .map(|(t, _)| t.replace("&quot;", "\""))
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&title)
        .unwrap_or_else(|e| panic!("{name}: the probe did not run ({e}): {title}"));
    let figures = v["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let n: Vec<f64> = r
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            [n[0], n[1], n[2], n[3]]
        })
        .collect();
    (page, figures, v["height"].as_f64().unwrap().ceil() as u32)
}

/// A screenshot of the whole page, as RGB rows.
fn screenshot(dir: &Path, name: &str, page: &Path, height: u32) -> (u32, u32, Vec<u8>, usize) {
    let png_path = dir.join(format!("{name}.png"));
    let out = browser(&dir.join(format!("profile-shot-{name}")))
        .arg(format!("--window-size={WIDTH},{height}"))
        .arg(format!("--screenshot={}", png_path.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: chromium --screenshot failed: {out:?}"
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf, channels)
}

/// Coloured (saturated) pixels inside a box: a chart's bars; axes, labels and the page are
/// grey or white.
fn coloured_pixels(shot: &(u32, u32, Vec<u8>, usize), b: [f64; 4]) -> usize {
    let (w, h, px, ch) = shot;
    let (x0, y0) = (b[0].max(0.0) as u32, b[1].max(0.0) as u32);
    let (x1, y1) = (
        ((b[0] + b[2]) as u32).min(*w),
        ((b[1] + b[3]) as u32).min(*h),
    );
    let mut n = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            let i = ((y * w + x) as usize) * ch;
            let (r, g, bl) = (px[i], px[i + 1], px[i + 2]);
            if r.max(g).max(bl) - r.min(g).min(bl) > 60 {
                n += 1;
            }
        }
    }
    n
}

/// Every figure of the page is inside the screenshot and shows its marks.
fn check(dir: &Path, name: &str, html: &str) -> Vec<(usize, [f64; 4], usize)> {
    let (page, figures, height) = layout(dir, name, html);
    assert_eq!(
        figures.len(),
        html.matches("<svg").count(),
        "{name}: every figure is laid out"
    );
    let shot = screenshot(dir, name, &page, height);
    assert_eq!(shot.0, WIDTH, "{name}: screenshot width");
    figures
        .iter()
        .enumerate()
        .map(|(i, b)| {
            assert!(
                b[2] > 100.0 && b[3] > 50.0,
                "{name}: figure {i} is laid out tiny: {b:?}"
            );
            assert!(
                b[1] + b[3] <= shot.1 as f64,
                "{name}: figure {i} {b:?} is below the screenshot ({} px high)",
                shot.1
            );
            (i, *b, coloured_pixels(&shot, *b))
        })
        .collect()
}

#[test]
fn html_reports_show_every_figure_in_chromium() {
    let dir = tempfile::Builder::new()
        .prefix("cutover-browser")
        .tempdir()
        .unwrap();
    let reports = [
        (
            "daily",
            render(DAILY.0, Some(DAILY.1), DAILY.2, Format::Html),
        ),
        ("weekly", render(WEEKLY.0, None, WEEKLY.1, Format::Html)),
        ("final", render(FINAL.0, None, FINAL.1, Format::Html)),
    ];
    for (name, html) in &reports {
        let figures = check(dir.path(), name, html);
        assert!(!figures.is_empty(), "{name}: no figure in the HTML");
        for (i, b, coloured) in figures {
            // At least a bar's worth of coloured pixels (a 2 x 10 px bar is 20).
            assert!(
                coloured >= 20,
                "{name}: figure {i} at {b:?} is blank in the screenshot ({coloured} coloured pixels)"
            );
        }
    }
    // The weekly report has the per-day chart besides the batches' and the hours'.
    assert_eq!(reports[1].1.matches("<svg").count(), 3);

    // A blank figure (frame and axes, no bars) of the same size fails the same check.
    let blank = "<!DOCTYPE html><html><head><title>x</title></head><body><h1>blank</h1><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 720 220\" width=\"720\" height=\"220\"><line x1=\"60\" y1=\"20\" x2=\"60\" y2=\"180\" stroke=\"#444\"/><text x=\"56\" y=\"24\" font-size=\"11\">1</text></svg></body></html>";
    let figures = check(dir.path(), "blank", blank);
    assert_eq!(figures.len(), 1);
    assert!(
        figures[0].2 < 20,
        "a blank figure passed the check: {} coloured pixels",
        figures[0].2
    );
}

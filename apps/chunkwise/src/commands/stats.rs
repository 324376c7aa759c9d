//! `stats`: what is in a dataset (count, NaNs, sum, mean, std, extremes and where they are,
//! optionally a histogram), the same to the bit on any engine and any number of ranks.

use anyhow::{bail, Result};
use chunkwise::{Connection, Histogram, Number, Selection, Stats, Summary};
use serde_json::{json, Value};

use chunkwise_frontend::on_root;

/// What `chunkwise stats` was asked.
pub struct StatsRequest<'a> {
    pub name: &'a str,
    pub select: Option<&'a str>,
    pub histogram: Option<usize>,
    pub range: Option<&'a str>,
    pub json: bool,
}

/// Computes the figures (collective) and prints them on rank 0.
pub fn stats(conn: &Connection, request: &StatsRequest<'_>) -> Result<()> {
    let dataset = conn.dataset(request.name)?;
    let selection = match request.select {
        Some(text) => Selection::parse(text)?,
        None => Selection::all(),
    };
    let range = match request.range {
        Some(text) => Some(parse_range(text)?),
        None => None,
    };
    if range.is_some() && request.histogram.is_none() {
        bail!(
            "--range {} applies to a histogram; expected --histogram BINS with it",
            request.range.unwrap_or_default()
        );
    }
    // With a range the histogram is counted in the same pass; without, its range is the
    // first pass's smallest and largest value (of the non-NaN ones; numpy's default).
    let (state, counts) = match (request.histogram, range) {
        (Some(bins), Some(range)) => {
            let histogram = Histogram::new(bins, range)?;
            let (state, counts) = dataset.reduce(&selection, &(Stats, histogram.clone()))?;
            (state, Some((histogram, counts)))
        }
        _ => (dataset.reduce(&selection, &Stats)?, None),
    };
    let summary = Stats::summary(&state, dataset.layout())?;
    let counts = match (request.histogram, counts) {
        (_, Some(counted)) => Some(counted),
        (None, None) => None,
        (Some(bins), None) => {
            let (Some(lo), Some(hi)) = (summary.min, summary.max) else {
                bail!(
                    "{}: no value that is not NaN, so no range for the histogram; expected --range LO,HI",
                    request.name
                );
            };
            let histogram = Histogram::new(bins, (lo.to_f64(), hi.to_f64()))?;
            let counts = dataset.reduce(&selection, &histogram)?;
            Some((histogram, counts))
        }
    };
    let histogram = counts.map(|(h, counts)| (h.edges_for(dataset.dtype()), counts));
    on_root(conn, || {
        if request.json {
            let document = summary_json(request.name, &summary, histogram.as_ref());
            println!("{}", serde_json::to_string_pretty(&document)?);
        } else {
            print_summary(request.name, &summary, histogram.as_ref());
        }
        Ok(())
    })
}

/// `LO,HI`.
fn parse_range(text: &str) -> Result<(f64, f64)> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    match parts.as_slice() {
        [lo, hi] => match (lo.parse::<f64>(), hi.parse::<f64>()) {
            (Ok(lo), Ok(hi)) => Ok((lo, hi)),
            _ => bail!("--range {text}; expected two numbers LO,HI"),
        },
        _ => bail!("--range {text}; expected two numbers LO,HI"),
    }
}

fn number_json(number: Number) -> Value {
    match number {
        Number::Float(x) => float_json(x),
        // Integers beyond what JSON readers hold exactly go as text.
        Number::Int(i) if i.unsigned_abs() <= 1 << 53 => json!(i as i64),
        Number::Int(i) => json!(i.to_string()),
    }
}

/// A float, or its name when JSON has no number for it (`"nan"`, `"inf"`, `"-inf"`, as `info`
/// writes fill values).
fn float_json(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else if x.is_nan() {
        json!("nan")
    } else if x > 0.0 {
        json!("inf")
    } else {
        json!("-inf")
    }
}

fn summary_json(name: &str, s: &Summary, histogram: Option<&(Vec<f64>, Vec<u64>)>) -> Value {
    let mut document = json!({
        "name": name,
        "count": s.count,
        "nan_count": s.nan_count,
        "sum": number_json(s.sum),
        "mean": float_json(s.mean),
        "variance": float_json(s.variance),
        "std": float_json(s.std),
        "min": s.min.map(number_json),
        "max": s.max.map(number_json),
        "argmin": s.argmin,
        "argmax": s.argmax,
    });
    if let Some((edges, counts)) = histogram {
        document["histogram"] = json!({
            "edges": edges.iter().map(|&e| float_json(e)).collect::<Vec<_>>(),
            "counts": counts,
        });
    }
    document
}

fn print_summary(name: &str, s: &Summary, histogram: Option<&(Vec<f64>, Vec<u64>)>) {
    let index = |i: &Option<Vec<usize>>| {
        i.as_ref()
            .map_or("-".to_string(), |i| chunkwise::error::fmt_tuple(i))
    };
    let number = |n: Option<Number>| n.map_or("-".to_string(), |n| n.to_string());
    println!("dataset:   {name}");
    println!("count:     {}", s.count);
    println!("NaNs:      {}", s.nan_count);
    println!("sum:       {}", s.sum);
    println!("mean:      {}", s.mean);
    println!("std:       {}", s.std);
    println!("variance:  {}", s.variance);
    println!("min:       {} at {}", number(s.min), index(&s.argmin));
    println!("max:       {} at {}", number(s.max), index(&s.argmax));
    if let Some((edges, counts)) = histogram {
        println!("histogram: {} bins", counts.len());
        let widest = counts.iter().max().copied().unwrap_or(0).max(1);
        for (k, &count) in counts.iter().enumerate() {
            let close = if k + 1 == counts.len() { ']' } else { ')' };
            let bar = "#".repeat((count * 40).div_ceil(widest) as usize);
            println!(
                "  [{:>12}, {:>12}{close} {count:>12} {bar}",
                format!("{:.6e}", edges[k]),
                format!("{:.6e}", edges[k + 1])
            );
        }
    }
}

//! `snapkb-embed`: reads one text per line on stdin and writes one JSON array of floats (the
//! text's all-MiniLM-L6-v2 vector) per line on stdout, in order. For checking vectors by hand
//! and for tests. Texts are embedded in batches of 32.

use std::{
    io::{BufRead, BufWriter, Write},
    path::PathBuf,
    process::ExitCode,
};

use clap::Parser;
use snapkb_embed::{Embedder, MiniLm, default_model_dir};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Embed one text per stdin line with all-MiniLM-L6-v2; one JSON array per stdout line"
)]
struct Args {
    /// Folder with model.safetensors, config.json and tokenizer.json
    /// [default: $SNAPKB_MODEL_DIR or models/all-MiniLM-L6-v2]
    #[arg(long)]
    model_dir: Option<PathBuf>,
}

fn run(args: Args) -> Result<(), String> {
    let dir = args.model_dir.unwrap_or_else(default_model_dir);
    let model = MiniLm::load(&dir).map_err(|e| e.to_string())?;
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut batch: Vec<String> = Vec::with_capacity(32);
    let flush = |batch: &mut Vec<String>, out: &mut BufWriter<_>| -> Result<(), String> {
        let texts: Vec<&str> = batch.iter().map(String::as_str).collect();
        let embedded = model.embed(&texts).map_err(|e| e.to_string())?;
        for v in &embedded.vectors {
            serde_json::to_writer(&mut *out, v).map_err(|e| e.to_string())?;
            out.write_all(b"\n").map_err(|e| e.to_string())?;
        }
        batch.clear();
        Ok(())
    };
    for (n, line) in stdin.lines().enumerate() {
        let line = line.map_err(|e| format!("line {}: {e} (input must be UTF-8)", n + 1))?;
        batch.push(line);
        if batch.len() == 32 {
            flush(&mut batch, &mut out)?;
        }
    }
    flush(&mut batch, &mut out)?;
    out.flush().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("snapkb-embed: {message}");
            ExitCode::FAILURE
        }
    }
}

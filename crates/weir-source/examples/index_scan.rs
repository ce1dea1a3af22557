//! Reads a Helm repository index as the HelmChart reconciler does (line by line, keeping one
//! chart) and prints how many versions chart NAME has. Used by `bench/helm/index`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, chart] = args.as_slice() else {
        return Err("usage: index_scan INDEX_FILE CHART".into());
    };
    let scan = weir_source::helm_index::scan_file(std::path::Path::new(path), chart)?;
    let newest = weir_source::helm_index::select(&scan.wanted, "")?
        .map(|v| v.version.clone())
        .unwrap_or_default();
    println!("{} versions, newest {newest}", scan.wanted.len());
    Ok(())
}

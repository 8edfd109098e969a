//! Write the page of a synthetic plan: `synthetic NODES PODS_PER_NODE OUT.html`; prints the time
//! the model and the renderer took (the browser's share is measured by `bench/map.sh`).

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (nodes, pods, out) = match args.as_slice() {
        [_, n, p, o] => (n.parse::<usize>()?, p.parse::<usize>()?, o.clone()),
        _ => return Err("usage: synthetic NODES PODS_PER_NODE OUT.html".into()),
    };
    if nodes > 100_000 || pods > 1_000 {
        return Err("at most 100,000 nodes of 1,000 pods".into());
    }
    let start = Instant::now();
    let plan = map::synthetic::plan(nodes, pods);
    let built = start.elapsed();
    let html = map::render(&plan, map::Options::default());
    let rendered = start.elapsed() - built;
    std::fs::write(&out, &html)?;
    println!(
        "{nodes} nodes × {pods} pods: model {:.1} ms, render {:.1} ms, {} bytes, {} tags",
        built.as_secs_f64() * 1e3,
        rendered.as_secs_f64() * 1e3,
        html.len(),
        html.matches('<').count()
    );
    Ok(())
}

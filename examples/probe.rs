use waves::graph;
fn main() {
    let f = std::env::args().nth(1).unwrap();
    let c = waves::script::compile_file(std::path::Path::new(&f), 48000.0).unwrap();
    let (mut g, _) = graph::compile(&c.spec, 48000.0);
    let mut ctx = waves::dsp::Ctx::new(48000.0, c.spec.tempo_bpm);
    let (mut l, mut r) = (vec![0.0; 64], vec![0.0; 64]);
    let blocks = 48000 * 10 / 64;
    for _ in 0..blocks {
        g.process_block(&ctx, &mut l, &mut r);
        ctx.frame += 64;
    }
    println!(
        "blocks {blocks} slept {} lanes_slept {}",
        g.slept_blocks(),
        g.lanes_slept()
    );
}

"""``sentvec index build|info`` (persistent embedding indexes) and ``sentvec search`` (querying one)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sentvec.cli.common import UsageError, note, out, plural
from sentvec.cli.loading import load_cross_encoder, model_from_args
from sentvec.cli.options import add_batch_size, add_cache_folder, add_no_progress, positive_int
from sentvec.types import PRECISIONS


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    model_opts: argparse.ArgumentParser,
) -> None:
    """Add ``index build``, ``index info`` and ``search`` to the subcommands."""
    idx = sub.add_parser(
        "index",
        help="build or describe a persistent embedding index",
        description="Persistent embedding indexes: a folder of vectors, ids and texts on disk.",
    )
    actions = idx.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    _add_build(actions, common, model_opts)
    info = actions.add_parser(
        "info", parents=[common], help="describe an index", description="Show what an index holds and how it was built."
    )
    info.add_argument("index", metavar="INDEX", help="index folder")
    info.add_argument("--json", action="store_true", help="print the manifest (without the chunk list) as JSON")
    info.add_argument("--verify", action="store_true", help="also check every chunk file against its checksum")
    info.set_defaults(func=cmd_index_info)
    _add_search(sub, common)


def _add_build(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    model_opts: argparse.ArgumentParser,
) -> None:
    """Add ``index build`` (with its Ray options) to the index actions."""
    ib = actions.add_parser(
        "build",
        parents=[common, model_opts],
        help="embed a corpus file into an index folder",
        description="Embed CORPUS (text lines, JSON lines, CSV/TSV or Parquet) chunk by chunk into the folder OUT. "
        "An interrupted build resumes when run again with the same arguments.",
    )
    ib.add_argument(
        "corpus",
        metavar="CORPUS",
        help="corpus file: .txt (one document per line), .jsonl, .csv/.tsv, "
        ".parquet; a local path or a URI (s3://, gs://, abfs://, hdfs://, file://)",
    )
    ib.add_argument("--out", required=True, metavar="INDEX", help="index folder to create (or resume)")
    ib.add_argument(
        "--format",
        choices=("text", "jsonl", "csv", "parquet"),
        default=None,
        help="corpus format (default: from the extension; text otherwise)",
    )
    ib.add_argument("--text-field", default="text", help="JSON field or column with the text (default: text)")
    ib.add_argument(
        "--id-field",
        default="id",
        help="JSON field or column with the id (default: id; missing: the record's position)",
    )
    ib.add_argument(
        "--precision", choices=PRECISIONS, default="float32", help="how vectors are stored (default: float32)"
    )
    ib.add_argument(
        "--no-normalize", action="store_true", help="store raw vectors: scores are dot products, not cosine"
    )
    ib.add_argument("--truncate-dim", type=positive_int, default=None, help="keep the first N dimensions (Matryoshka)")
    ib.add_argument("--prompt-name", default=None, help="the model's prompt for documents, if it has one")
    ib.add_argument(
        "--chunk-size",
        type=positive_int,
        default=10_000,
        help="documents per chunk: the unit of memory and of resuming (default: 10000)",
    )
    add_batch_size(ib)
    ib.add_argument(
        "--ann",
        choices=("faiss",),
        default=None,
        help="also build an approximate index (HNSW; with --ray, IVF with its lists on disk)",
    )
    ib.add_argument(
        "--bm25",
        nargs="?",
        const="en",
        choices=("en", "zh"),
        default=None,
        metavar="LANG",
        help="also build a BM25 keyword index (search --mode bm25/hybrid); LANG en (stemmed words, the "
        "default) or zh (CJK characters and bigrams). Adds BM25 to a complete index too",
    )
    ib.add_argument(
        "--sparse",
        metavar="SPARSE_MODEL",
        default=None,
        help="also encode every document with this SparseEncoder (e.g. splade-tiny) into an inverted "
        "index (search --mode sparse)",
    )
    ib.add_argument(
        "--hybrid",
        action="store_true",
        help="as --bm25, and make hybrid (dense + BM25) the index's default search mode",
    )
    ib.add_argument("--overwrite", action="store_true", help="replace an existing index at OUT")
    add_no_progress(ib)
    ray = ib.add_argument_group("distributed build (sentvec[ray])")
    ray.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="embed on a Ray cluster: ADDRESS, else $RAY_ADDRESS, else a local cluster; "
        "--chunk-size is then the rows per shard",
    )
    ray.add_argument(
        "--actors",
        type=positive_int,
        default=None,
        help="embedding actors (default: as many as the cluster's CPUs or GPUs allow)",
    )
    ray.add_argument("--cpus-per-actor", type=float, default=1.0, help="CPU cores per actor (default: 1)")
    ray.add_argument("--gpus-per-actor", type=float, default=0.0, help="GPUs per actor, e.g. 1 or 0.5 (default: 0)")
    ib.set_defaults(func=cmd_index_build)


def _add_search(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Add ``search`` to the subcommands."""
    se = sub.add_parser(
        "search",
        parents=[common],
        help="query an index built with `sentvec index build`",
        description="Embed QUERY with the index's model and print the best documents: rank, score, id and text.",
    )
    se.add_argument("index", metavar="INDEX", help="index folder")
    se.add_argument("query", metavar="QUERY", help="the query text")
    se.add_argument("-k", type=positive_int, default=10, help="number of hits (default: 10)")
    se.add_argument("--json", action="store_true", help="print the hits as a JSON array")
    se.add_argument("--approximate", action="store_true", help="use the approximate (HNSW) index built with --ann")
    se.add_argument(
        "--mode",
        choices=("dense", "bm25", "hybrid", "sparse"),
        default=None,
        help="dense (embeddings), bm25 (keywords; an index built with --bm25), sparse (one built with "
        "--sparse) or hybrid (dense fused with BM25 or the sparse vectors, see --lexical) (default: the "
        "index's own, set by --hybrid; else dense)",
    )
    se.add_argument(
        "--fusion",
        choices=("rrf", "convex"),
        default=None,
        help="hybrid: reciprocal-rank fusion or a min-max normalised convex combination (default: convex)",
    )
    se.add_argument("--alpha", type=float, default=None, help="hybrid: weight of the dense side, 0-1 (default: 0.5)")
    se.add_argument(
        "--lexical",
        choices=("bm25", "sparse"),
        default=None,
        help="hybrid: fuse the dense side with the index's BM25 or its sparse vectors (default: BM25 when the "
        "index has it, else sparse)",
    )
    se.add_argument(
        "-m",
        "--model",
        default=None,
        help="model to embed the query (default: the index's own; another model is refused)",
    )
    se.add_argument(
        "--rerank",
        metavar="CROSS_ENCODER_MODEL",
        default=None,
        help="rerank the retrieved hits with this cross-encoder; lines then show rank, rerank score, "
        "index score, id and text",
    )
    se.add_argument(
        "--rerank-top",
        metavar="N",
        type=positive_int,
        default=None,
        help="hits retrieved from the index for --rerank to score (default: 4 * k)",
    )
    add_cache_folder(se)
    se.set_defaults(func=cmd_search)


def cmd_index_build(args: argparse.Namespace) -> int:
    """Embed a corpus into an index folder (or resume the build); --ray hands it to cmd_index_build_ray."""
    from sentvec.index import Index
    from sentvec.index.builder import check_build_inputs

    if args.ray is not None:
        return cmd_index_build_ray(args)
    # the corpus and the index path first: a binary, empty or malformed corpus fails before the model loads
    check_build_inputs(
        args.corpus,
        args.out,
        format=args.format,
        text_field=args.text_field,
        id_field=args.id_field or None,
        overwrite=args.overwrite or bool(_bm25_options(args)["bm25"]),
    )
    model = model_from_args(args)
    model.model_name_or_path = model.model_name_or_path or args.model
    # an interrupted or failed build says on the log what it kept (to resume) or removed
    index = Index.build(
        args.corpus,
        model,
        args.out,
        **_build_options(args),
    )
    if index.manifest.get("bm25"):
        note(
            args,
            f"BM25 index ({index.manifest['bm25']['language']}) over {plural(index.count, 'document')}; "
            f"default search mode: {index.manifest.get('search_mode') or 'dense'}",
        )
    _note_indexed(args, index)
    return 0


def cmd_index_build_ray(args: argparse.Namespace) -> int:
    """`sentvec index build CORPUS --ray [ADDRESS]`: the same index, embedded by a Ray actor pool."""
    from sentvec.distributed import build_index, summary_lines

    if args.backend != "torch" and args.gpus_per_actor:
        raise UsageError(
            f"--backend {args.backend} runs onnxruntime on the CPU; with --gpus-per-actor use --backend torch"
        )
    # The actors load the model by name with the options model_from_args reads (the model, --device,
    # --cache-folder, --backend); an interrupted or failed build says on the log what it kept or removed.
    index = build_index(
        args.corpus,
        args.model,
        args.out,
        address=args.ray or None,
        num_actors=args.actors,
        cpus_per_actor=args.cpus_per_actor,
        gpus_per_actor=args.gpus_per_actor,
        device=args.device,
        cache_folder=args.cache_folder,
        backend=args.backend,
        **_build_options(args),
    )
    for line in summary_lines(index.manifest["build"]):
        note(args, line)
    _note_indexed(args, index)
    return 0


def cmd_index_info(args: argparse.Namespace) -> int:
    """Describe an index: its manifest as aligned text, or as JSON without the chunk list."""
    from sentvec.index import Index

    index = Index.open(args.index, verify=args.verify)
    manifest = {key: value for key, value in index.manifest.items() if key != "chunks"}
    manifest["chunk_count"] = len(index.manifest["chunks"])
    if args.json:
        out(json.dumps(manifest, ensure_ascii=False))
        return 0
    model = manifest["model"]
    rows = [
        ("documents", f"{index.count}{'' if index.complete else ' (build unfinished: run it again to resume)'}"),
        ("model", f"{model['name']} (fingerprint {model['fingerprint']})"),
        ("dimension", model["dimension"]),
        ("precision", manifest["precision"]),
        ("normalized", "yes" if manifest["normalize"] else "no"),
        ("chunks", f"{manifest['chunk_count']} of up to {manifest['chunk_size']} documents"),
        ("source", f"{manifest['source']['path']} ({manifest['source']['format']})"),
        ("approximate", manifest["ann"]["kind"] if manifest.get("ann") else "none"),
    ]
    out("\n".join(f"{key + ':':<12} {value}" for key, value in rows))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Embed the query with the index's model (or -m) and print the best hits, reranked with --rerank."""
    from sentvec.index import Index

    index = Index.open(args.index)
    if not index.complete:
        note(args, f"the build of {args.index} is unfinished; searching the {index.count} documents stored so far")
    model = None
    if args.model is not None:
        model = model_from_args(args)
    elif args.device is not None or args.cache_folder is not None:
        model = index.model(device=args.device, cache_folder=args.cache_folder)
    if args.rerank is None and args.rerank_top is not None:
        raise UsageError("--rerank-top needs --rerank CROSS_ENCODER_MODEL")
    if args.rerank_top is not None and args.rerank_top < args.k:
        raise UsageError(f"--rerank-top {args.rerank_top} is smaller than -k {args.k}; rerank at least k hits")
    reranker = None
    if args.rerank is not None:
        reranker = load_cross_encoder(args.rerank, device=args.device, cache_folder=args.cache_folder)
    fusion = {"fusion": args.fusion, "alpha": args.alpha, "lexical": args.lexical}
    fusion = {key: value for key, value in fusion.items() if value is not None}
    hits: list[dict[str, Any]] = index.search(  # type: ignore[assignment]  # one query: one list of hits
        args.query,
        k=args.k,
        model=model,
        exact=not args.approximate,
        reranker=reranker,
        rerank_top=args.rerank_top,
        mode=args.mode,
        **fusion,
    )
    if args.json:
        out(json.dumps(hits, ensure_ascii=False))
    elif reranker is not None:  # both scores: the cross-encoder's (the order) and the index's
        for rank, hit in enumerate(hits, start=1):
            out(f"{rank}\t{hit['rerank_score']:.4f}\t{hit['score']:.4f}\t{hit['id']}\t{hit['text']}")
    else:
        for rank, hit in enumerate(hits, start=1):
            out(f"{rank}\t{hit['score']:.4f}\t{hit['id']}\t{hit['text']}")
    return 0


def _build_options(args: argparse.Namespace) -> dict[str, Any]:
    """The index settings both builds (one process, or Ray) take from the command line, in one place."""
    return {
        "format": args.format,
        "text_field": args.text_field,
        "id_field": args.id_field or None,
        "precision": args.precision,
        "normalize": not args.no_normalize,
        "truncate_dim": args.truncate_dim,
        "prompt_name": args.prompt_name,
        "chunk_size": args.chunk_size,
        "batch_size": args.batch_size,
        "ann": args.ann,
        "overwrite": args.overwrite,
        "show_progress_bar": not (args.no_progress or args.quiet),
        **_bm25_options(args),
    }


def _bm25_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword-index options of a build: --bm25 LANG (--hybrid implies en) and --sparse MODEL."""
    language = args.bm25 or ("en" if args.hybrid else None)
    return {"bm25": language, "search_mode": "hybrid" if args.hybrid else None, "sparse": args.sparse}


def _note_indexed(args: argparse.Namespace, index: Any) -> None:
    """The closing note of a build: documents, folder, precision, dimension and ANN."""
    note(
        args,
        f"indexed {plural(index.count, 'document')} into {args.out} "
        f"({index.precision}, dimension {index.dimension}{', with ANN index' if index.manifest.get('ann') else ''})",
    )

"""Runs the stages in order, reports progress, honours cancel, and reuses what is still valid.

Each stage's result carries a fingerprint of everything it depends on; a new run with a previous
analysis recomputes only the stages whose fingerprint changed (new clustering settings reuse the
embeddings; a new projection reuses the clusters; new weights recompute nothing here at all).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path
from typing import cast

import numpy as np

from level_desktop.core.analysis import Analysis, ClusterInfo, SourceInfo
from level_desktop.core.clustering import CLUSTERERS, ClusterStats, assign_noise, cluster_stats
from level_desktop.core.comparison import Leaks, Placement
from level_desktop.core.duplicates import DEFAULT_NEIGHBOUR_CLUSTERS, DEFAULT_THRESHOLD
from level_desktop.core.embedding import (
    AUTO,
    Embedder,
    SentenceTransformerEmbedder,
    choose_auto_embedder,
    embedder_entry_name,
    make_embedder,
)
from level_desktop.core.errors import ModelError, TooFewRowsError
from level_desktop.core.image_embedding import (
    ImageEmbedder,
    image_model_name,
    is_image_embedder,
    make_image_embedder,
)
from level_desktop.core.images import (
    LoadedImages,
    ProblemCounts,
    attach_thumbnails,
    caption_column,
    image_column_of,
    images_of_table,
    read_input_table,
    row_image_path,
)
from level_desktop.core.labeling import LABELERS, ClusterDocs
from level_desktop.core.leaks import find_leaks
from level_desktop.core.loading import MIN_ROWS, LoadedInput, SourceTable, text_rows
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress
from level_desktop.core.projection import PROJECTORS, ClusterProjector
from level_desktop.core.sampling import representatives
from level_desktop.core.settings import Settings
from level_desktop.core.store import EmbeddingCache, file_hash, text_hashes
from level_desktop.core.topics import (
    CLUSTERS_PER_TOPIC,
    TopicInfo,
    build_topics,
    name_topics,
    topics_of_groups,
)
from level_desktop.core.vector_input import VectorInput, load_vectors
from level_desktop.core.vectors import cosine_knn

STAGES = ("load", "embed", "cluster", "sample", "label", "topics", "project", "terrain")
COMPARE_STAGE = "compare"  # placing a comparison set (adding one, or keeping it in a new run)
# Rough share of a typical run's time per stage, for one overall progress bar.
STAGE_SHARES = {"load": 0.03, "embed": 0.6, "cluster": 0.08, "sample": 0.02, "label": 0.05,
                "topics": 0.02, "project": 0.17, "terrain": 0.03}


def overall_fraction(stage: str, fraction: float) -> float:
    """Map a stage's own fraction onto the whole run's [0, 1]."""
    if stage not in STAGE_SHARES:
        return fraction
    before = sum(STAGE_SHARES[s] for s in STAGES[:STAGES.index(stage)])
    return min(1.0, before + STAGE_SHARES[stage] * max(0.0, min(1.0, fraction)))


def _fingerprint(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode("utf-8")).hexdigest()[:16]


def cluster_fingerprint(fp_embed: str, settings: Settings) -> str:
    """What the clusters depend on: the vectors, the clusterer and the parameters it declares
    (its seed among them), and whether noise is handed to the nearest cluster."""
    return _fingerprint(fp_embed, CLUSTERERS.fingerprint(settings.method, settings),
                        settings.assign_noise)


def label_fingerprint(fp_cluster: str, settings: Settings) -> str:
    """What the cluster names depend on: the clusters, the labeler with the parameters it
    declares, and the representatives shown to it."""
    return _fingerprint(fp_cluster, *LABELERS.fingerprint(settings.labeler, settings),
                        settings.representatives)


def topics_fingerprint(fp_cluster: str) -> str:
    """What the topics (which clusters merge) depend on: the clusters and the merge rule."""
    return _fingerprint(fp_cluster, "ward", CLUSTERS_PER_TOPIC)


def _v1_fingerprints(fp_embed: str, settings: Settings) -> tuple[str, str]:
    """The cluster and label fingerprints as Level wrote them before backends declared their
    parameters, so that a project saved then still reuses its clusters, weights and names."""
    fp_cluster = _fingerprint(fp_embed, settings.method, settings.k, settings.eps,
                              settings.min_samples, settings.min_cluster_size,
                              settings.assign_noise, settings.seed)
    return fp_cluster, _fingerprint(fp_cluster, settings.labeler, settings.gemini_model,
                                    settings.representatives)


def project_fingerprint(fp_embed: str, fp_cluster: str, settings: Settings) -> str:
    """What the map depends on: the clusters and topics for a projector that lays out from
    them, else the vectors; and the projector with the parameters it declares."""
    if not PROJECTORS.entry(settings.projection).needs_clusters:
        return _fingerprint(fp_embed, *PROJECTORS.fingerprint(settings.projection, settings))
    # Laid out from the clusters and their topics (which follow from the clusters alone).
    return _fingerprint(topics_fingerprint(fp_cluster),
                        *PROJECTORS.fingerprint(settings.projection, settings))


def embed_texts(texts: list[str], embedder: Embedder, progress: ProgressCallback = no_progress,
                cancel: CancelToken | None = None, cache: EmbeddingCache | None = None,
                hashes: list[str] | None = None) -> tuple[np.ndarray, str]:
    """Embed with the cache: rows seen before with the same model are not sent to the model.

    Returns the vectors and the device that made them ("cache" when the model was not needed).
    """
    hashes = hashes if hashes is not None else text_hashes(texts)
    found, cached = cache.lookup(embedder.cache_key, hashes) if cache else (None, None)
    if found is None or cached is None:
        found = np.zeros(len(texts), dtype=bool)
    missing = np.flatnonzero(~found)
    if missing.size == 0 and cached is not None:
        progress("embed", 1.0, f"All {len(texts):,} rows found in the embedding cache")
        return cached, "cache"
    if found.any():
        progress("embed", 0.0, f"{int(found.sum()):,} rows cached; embedding {missing.size:,}")
    fresh = embedder.encode([texts[i] for i in missing], progress, cancel)
    if missing.size == len(texts):
        out = np.asarray(fresh, dtype=np.float32)  # nothing cached: no second n × d copy
    else:
        out = np.empty((len(texts), fresh.shape[1]), dtype=np.float32)
        out[missing] = fresh
        if cached is not None:
            out[found] = cached
    if cache is not None:
        cache.store(embedder.cache_key, [hashes[i] for i in missing], fresh)
    return out, embedder.device


def analyze(input_path: str | Path | None, settings: Settings,
            progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
            previous: Analysis | None = None, cache: EmbeddingCache | None = None,
            embedder: Embedder | None = None) -> Analysis:
    """Run the whole pipeline on `input_path` (or on `previous`'s rows when it is None)."""
    settings.validate()
    cancel = cancel or CancelToken()
    timings: dict[str, float] = {}

    def timed(stage: str, start: float) -> None:
        timings[stage] = round(time.perf_counter() - start, 4)

    # load
    t = time.perf_counter()
    given: VectorInput | None = None
    if input_path is None:
        if previous is None:
            raise ValueError("analyze() needs an input file or a previous analysis")
        if previous.settings.image_column is not None:
            return _analyze_images(None, settings, progress, cancel, previous, cache, embedder,
                                   timings, t)
        source, columns = previous.source, previous.columns
        row_index, texts = previous.row_index, previous.texts
    elif settings.vectors_column:
        progress("load", 0.0, f"Reading texts and vectors from {Path(input_path).name}")
        given = load_vectors(input_path, vector_column=settings.vectors_column,
                             text_column=settings.text_column, model_name=settings.model_name)
        report = given.report
        source = SourceInfo(path=str(Path(input_path).resolve()),
                            content_hash=file_hash(input_path), format=given.format,
                            text_column=given.text_column, n_rows=report.n_rows,
                            skipped_empty=report.n_rows - report.kept)
        # The file's own columns (all but the vectors) and the kept rows' places in them, so
        # an export writes every row of the file with its other columns.
        row_index, texts, columns = given.file_positions, given.texts, given.columns
        settings = settings.replace(text_column=given.text_column,
                                    vectors_column=given.vector_column)
        progress("load", 1.0, report.summary())
    else:
        progress("load", 0.0, f"Reading {Path(input_path).name}")
        table = read_input_table(input_path)
        image_column = image_column_of(table, settings.image_column, settings.text_column)
        if image_column is not None:
            images = images_of_table(table, image_column, progress=progress, cancel=cancel)
            return _analyze_images(images, settings, progress, cancel, previous, cache,
                                   embedder, timings, t)
        loaded: LoadedInput = text_rows(table, settings.text_column)
        source = SourceInfo(path=str(Path(input_path).resolve()),
                            content_hash=file_hash(input_path), format=table.format,
                            text_column=loaded.text_column, n_rows=table.n_rows,
                            skipped_empty=loaded.skipped_empty, ragged_rows=table.ragged_rows,
                            decode_report=table.decode_report)
        columns, row_index, texts = table.columns, loaded.row_index, loaded.texts
        settings = settings.replace(text_column=loaded.text_column)
        progress("load", 1.0, f"{len(texts):,} rows with text in column {loaded.text_column!r}")
    timed("load", t)
    cancel.check()

    # embed
    t = time.perf_counter()
    hashes = text_hashes(texts)
    texts_fp = _fingerprint(*hashes)
    model_choice: str | None = None
    if given is not None:  # the file brought its own vectors
        model_name = given.model_name or f"vectors from column {given.vector_column!r}"
        model_key = f"file:{source.content_hash}:{given.vector_column}"
        fp_embed = _fingerprint(model_key, texts_fp)
        vectors, device = given.vectors, "file"
        progress("embed", 1.0, f"{len(texts):,} vectors of {given.dimension} dimensions read")
    elif (embedder is None and previous is not None
            and (settings.vectors_column or settings.model == previous.settings.model == AUTO)
            and previous.fingerprints.get("embed") == _fingerprint(previous.model_key, texts_fp)):
        # Same rows, auto again (or the file's own vectors): keep what the last run used.
        model_name, model_key, model_choice = previous.model, previous.model_key, previous.model_choice
        fp_embed = previous.fingerprints["embed"]
        vectors, device = previous.embeddings, previous.device
        progress("embed", 1.0, "Embeddings reused from the previous run")
    else:
        if embedder is None and settings.model == AUTO:
            found = cache.lookup(SentenceTransformerEmbedder().cache_key, hashes)[0] if cache \
                else None
            embedder, choice = choose_auto_embedder(
                texts, settings.device, settings.batch_size, settings.max_seq_length,
                settings.time_budget, found, progress, cancel)
            model_choice = choice.reason
            progress("embed", 0.0, f"Model: {choice.reason}")
        if embedder is None and is_image_embedder(embedder_entry_name(settings.model)):
            raise ModelError(
                f"{settings.model} embeds images, and {Path(source.path).name} is read as text "
                f"(column {source.text_column!r}). Name its column of image paths with "
                f"--image-column, or choose a text model.")
        embedder = embedder or make_embedder(settings.model, settings.device,
                                             settings.batch_size, settings.max_seq_length,
                                             corpus=texts)
        model_name, model_key = embedder.name, embedder.cache_key
        fp_embed = _fingerprint(embedder.cache_key, texts_fp)
        if previous is not None and previous.fingerprints.get("embed") == fp_embed:
            vectors, device = previous.embeddings, previous.device
            progress("embed", 1.0, "Embeddings reused from the previous run")
        else:
            vectors, device = embed_texts(texts, embedder, progress, cancel, cache, hashes)
    timed("embed", t)
    cancel.check()
    analysis = _analyze_vectors(
        source=source, columns=columns, row_index=row_index, texts=texts, settings=settings,
        vectors=vectors, device=device, model_name=model_name, model_key=model_key,
        model_choice=model_choice, fp_embed=fp_embed, progress=progress, cancel=cancel,
        previous=previous, timings=timings)
    if previous is not None and previous.comparison is not None:
        t = time.perf_counter()
        carry_comparison(previous, analysis, embedder, cache, progress, cancel)
        timed(COMPARE_STAGE, t)
    return analysis


def place_comparison(analysis: Analysis, texts: list[str], vectors: np.ndarray,
                     threshold: float = DEFAULT_THRESHOLD,
                     neighbour_clusters: int = DEFAULT_NEIGHBOUR_CLUSTERS,
                     progress: ProgressCallback = no_progress,
                     cancel: CancelToken | None = None) -> tuple[Placement, Leaks]:
    """Where comparison rows (already embedded in `analysis`'s space) fall on its clusters,
    and which of them copy a training row: what adding a set and re-analysing both need."""
    cancel = cancel or CancelToken()
    n = len(texts)
    progress(COMPARE_STAGE, 0.0, f"Placing {n:,} rows on the landscape")
    # The nearest training row comes out of the leak search's own products (the rows of each
    # comparison row's nearest clusters and the noise rows: what `place` searches with labels).
    best_row = np.full(n, -1, dtype=np.int64)
    best_sim = np.full(n, -np.inf, dtype=np.float32)
    leaks = find_leaks(analysis.texts, analysis.embeddings, analysis.labels, analysis.centroids,
                       texts, vectors, threshold, neighbour_clusters, progress=progress,
                       cancel=cancel, nearest=(best_row, best_sim))
    cancel.check()
    if n and len(analysis.centroids):
        cluster, distance = cosine_knn(vectors, analysis.centroids, 1)
    else:
        cluster, distance = np.zeros((n, 1), np.int32), np.ones((n, 1), np.float32)
    missing = np.flatnonzero(best_row < 0)  # nothing compared (clusters without rows)
    if missing.size:
        row, row_distance = cosine_knn(vectors[missing], analysis.embeddings, 1)
        best_row[missing], best_sim[missing] = row[:, 0], 1.0 - row_distance[:, 0]
    placement = Placement(cluster=cluster[:, 0].astype(np.int64),
                          cluster_similarity=1.0 - distance[:, 0], nearest_row=best_row,
                          nearest_similarity=best_sim)
    return placement, leaks


def carry_comparison(previous: Analysis, analysis: Analysis, embedder: Embedder | None,
                     cache: EmbeddingCache | None = None,
                     progress: ProgressCallback = no_progress,
                     cancel: CancelToken | None = None) -> None:
    """Keep `previous`'s comparison set in a new analysis of the rows (new settings, another
    text column): its rows are placed on the new clusters and their leaks found again; they are
    embedded again only when the model (or, on the fast path, the corpus it learned from)
    changed. Vectors that came with the training file cannot be made for the comparison rows:
    the set is then left out, with a notice."""
    old = previous.comparison
    if old is None:
        return
    if analysis.model_key == previous.model_key:
        vectors = old.embeddings
        if analysis.labels is previous.labels and analysis.centroids is previous.centroids:
            analysis.comparison, analysis.zero_leaks = old, previous.zero_leaks
            return  # the same clusters: the set lies where it lay
    elif embedder is not None and embedder.cache_key == analysis.model_key:
        progress(COMPARE_STAGE, 0.0, f"Embedding the comparison set's {old.n_placed:,} rows")
        vectors, _ = embed_texts(old.texts, embedder, progress, cancel, cache)
    else:
        analysis.notices.append(
            f"The comparison set {Path(old.path).name} was left out: this analysis's vectors "
            f"came with the file, and its rows cannot be embedded the same way.")
        return
    placement, leaks = place_comparison(analysis, old.texts, vectors, old.leaks.threshold,
                                        progress=progress, cancel=cancel)
    analysis.comparison = dataclasses.replace(
        old, embeddings=np.asarray(vectors, dtype=np.float32), placement=placement, leaks=leaks)
    analysis.zero_leaks = previous.zero_leaks
    progress(COMPARE_STAGE, 1.0, f"The comparison set's {old.n_placed:,} rows placed on the "
                                 f"{len(analysis.clusters)} clusters")


def _analyze_vectors(*, source: SourceInfo, columns: dict[str, list[str]], row_index: np.ndarray,
                     texts: list[str], settings: Settings, vectors: np.ndarray, device: str,
                     model_name: str, model_key: str, model_choice: str | None, fp_embed: str,
                     progress: ProgressCallback, cancel: CancelToken, previous: Analysis | None,
                     timings: dict[str, float]) -> Analysis:
    """The stages after the embedding, the same for texts and images: cluster, sample, label,
    topics, project, terrain."""

    def timed(stage: str, start: float) -> None:
        timings[stage] = round(time.perf_counter() - start, 4)

    # cluster + sample
    t = time.perf_counter()
    fp_cluster = cluster_fingerprint(fp_embed, settings)
    v1_cluster, v1_label = _v1_fingerprints(fp_embed, settings)
    reuse_clusters = previous is not None and previous.fingerprints.get("cluster") in (
        fp_cluster, v1_cluster)
    if reuse_clusters and previous is not None:
        labels, centroids = previous.labels, previous.centroids
        sizes = previous.sizes
        spreads = np.array([c.spread for c in previous.clusters])
        progress("cluster", 1.0, "Clusters reused from the previous run")
    else:
        progress("cluster", 0.0, f"Clustering {len(texts):,} rows ({settings.method})")
        clusterer = CLUSTERERS.create(settings.method, settings, progress=progress,
                                      cancel=cancel)
        raw = clusterer.fit(vectors)
        stats = cluster_stats(vectors, raw, cancel)
        labels = stats.labels
        if settings.assign_noise and stats.noise_size:
            stats = cluster_stats(vectors, assign_noise(vectors, labels, stats.centroids, cancel),
                                  cancel)
            labels = stats.labels
        centroids, sizes, spreads = stats.centroids, stats.sizes, stats.spreads
        progress("cluster", 1.0, f"{len(sizes)} clusters, {stats.noise_size:,} noise rows")
    timed("cluster", t)
    cancel.check()
    t = time.perf_counter()
    reps = representatives(vectors, labels, centroids, settings.representatives, cancel)
    timed("sample", t)

    # label
    t = time.perf_counter()
    fp_label = label_fingerprint(fp_cluster, settings)
    saved_label = previous.fingerprints.get("label") if previous is not None else None
    if previous is not None and reuse_clusters and saved_label in (fp_label, v1_label):
        names = {c.id: c for c in previous.clusters}
        progress("label", 1.0, "Cluster names reused from the previous run")
        clusters = [ClusterInfo(id=c, size=int(sizes[c]), spread=float(spreads[c]),
                                label=names[c].label, description=names[c].description,
                                labeler=names[c].labeler, representatives=reps[c].tolist(),
                                fallback_reason=names[c].fallback_reason)
                    for c in range(len(sizes))]
    else:
        clusters = label_clusters(
            texts, labels, sizes, spreads, reps, settings, progress, cancel,
            image_files=_image_files(columns, settings.image_column, row_index, source),
            texts_are_file_names=_texts_are_file_names(settings))
    timed("label", t)
    cancel.check()

    # topics
    t = time.perf_counter()
    fp_topics = topics_fingerprint(fp_cluster)
    reuse_topics = (previous is not None and reuse_clusters and bool(previous.topics)
                    and previous.fingerprints.get("topics") == fp_topics)
    if previous is not None and reuse_topics and saved_label in (fp_label, v1_label):
        topics, cluster_topic = previous.topics, previous.cluster_topic
        progress("topics", 1.0, "Topics reused from the previous run")
    else:
        progress("topics", 0.0, f"Grouping {len(sizes)} clusters into topics")
        topics, cluster_topic = make_topics(
            vectors, texts, labels, centroids, sizes, spreads, settings, progress, cancel,
            image_files=_image_files(columns, settings.image_column, row_index, source),
            texts_are_file_names=_texts_are_file_names(settings))
        progress("topics", 1.0, f"{len(topics)} topics")
    timed("topics", t)
    cancel.check()

    # project
    t = time.perf_counter()
    # A map laid out from the clusters is redone when they change; any other map is kept.
    by_clusters = PROJECTORS.entry(settings.projection).needs_clusters
    fp_project = project_fingerprint(fp_embed, fp_cluster, settings)
    v1_project = project_fingerprint(fp_embed, v1_cluster, settings)
    if previous is not None and previous.fingerprints.get("project") in (fp_project, v1_project):
        positions = previous.positions
        progress("project", 1.0, "Map reused from the previous run")
    else:
        progress("project", 0.0, f"Laying out the map ({settings.projection})")
        projector = PROJECTORS.create(settings.projection, settings, progress=progress,
                                      cancel=cancel)
        positions = (cast(ClusterProjector, projector).fit_transform(
            vectors, labels, groups=np.asarray(cluster_topic)) if by_clusters
            else projector.fit_transform(vectors))
        progress("project", 1.0, "Map laid out")
    timed("project", t)
    cancel.check()

    keep_weights = reuse_clusters and previous is not None
    analysis = Analysis(
        settings=settings, source=source, columns=columns, row_index=row_index, texts=texts,
        model=model_name, model_key=model_key, model_choice=model_choice, device=device,
        embeddings=vectors,
        labels=labels, centroids=centroids, clusters=clusters, positions=positions,
        weights=(dict(previous.weights) if keep_weights and previous is not None
                 else {c.id: 1.0 for c in clusters}),
        noise_weight=previous.noise_weight if keep_weights and previous is not None else 1.0,
        timings=timings,
        fingerprints={"embed": fp_embed, "cluster": fp_cluster, "label": fp_label,
                      "topics": fp_topics, "project": fp_project},
        topics=topics, cluster_topic=cluster_topic,
        topic_weights=(dict(previous.topic_weights) if reuse_topics and previous is not None
                       else {tp.id: 1.0 for tp in topics}),
    )
    t = time.perf_counter()
    progress("terrain", 0.0, "Raising the terrain")
    analysis.terrain(None, check=cancel.check)
    timed("terrain", t)
    progress("terrain", 1.0, "Done")
    return analysis


def embed_images(paths: list[Path], hashes: list[str], embedder: ImageEmbedder,
                 progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
                 cache: EmbeddingCache | None = None
                 ) -> tuple[np.ndarray, str, np.ndarray, ProblemCounts]:
    """Embed image files with the cache, keyed on each file's content hash and the model (not
    its path: a renamed or copied image is not embedded again).

    Returns the vectors, the device, which rows failed to decode (zero rows, never cached) and
    why they failed.
    """
    found, cached = cache.lookup(embedder.cache_key, hashes) if cache else (None, None)
    if found is None or cached is None:
        found = np.zeros(len(paths), dtype=bool)
    missing = np.flatnonzero(~found)
    failed = np.zeros(len(paths), dtype=bool)
    if missing.size == 0 and cached is not None:
        progress("embed", 1.0, f"All {len(paths):,} images found in the embedding cache")
        return cached, "cache", failed, ProblemCounts()
    if found.any():
        progress("embed", 0.0, f"{int(found.sum()):,} images cached; embedding {missing.size:,}")
    fresh = embedder.encode([paths[i] for i in missing], progress, cancel)
    out = np.zeros((len(paths), fresh.shape[1]), dtype=np.float32)
    out[missing] = fresh
    if cached is not None:
        out[found] = cached
    failed[missing] = embedder.failed
    if cache is not None:
        good = missing[~embedder.failed]
        cache.store(embedder.cache_key, [hashes[i] for i in good], out[good])
    return out, embedder.device, failed, embedder.problems


def image_set_hash(table: SourceTable, hashes: list[str]) -> str:
    """What an image set's content is: every cell of its table (for a folder, the paths) and
    the bytes of every image read. Taken from the table as read, so a set analysed again from a
    saved project whose table file has moved hashes the same."""
    digest = hashlib.sha256()
    for name, values in table.columns.items():
        digest.update(name.encode("utf-8") + b"\0")
        for value in values:
            digest.update(value.encode("utf-8") + b"\n")
    for h in hashes:
        digest.update(h.encode("ascii"))
    return digest.hexdigest()


def _analyze_images(images: LoadedImages | None, settings: Settings, progress: ProgressCallback,
                    cancel: CancelToken, previous: Analysis | None, cache: EmbeddingCache | None,
                    embedder: Embedder | None, timings: dict[str, float], started: float
                    ) -> Analysis:
    """Load and embed an image set (or take a previous one's rows), then the common stages.

    Rows whose image cannot be used are skipped and counted (like rows without text): those
    found when the files are checked, and those that fail to decode while being embedded.
    Names come from a caption or label column when the file has one; else clusters are
    numbered (the keyword labeler has only file names to read).
    """
    if images is None:
        if previous is None:
            raise ValueError("an image analysis needs its images or a previous analysis")
        model = embedder.name if embedder is not None else image_model_name(settings.model)
        caption = previous.settings.text_column
        if (model == previous.model and "embed" in previous.fingerprints
                and settings.text_column in (None, caption)):
            progress("embed", 1.0, "Embeddings reused from the previous run")
            timings["load"] = timings["embed"] = 0.0
            labeler = ("numbered" if caption is None and settings.labeler == "keywords"
                       else settings.labeler)
            settings = settings.replace(image_column=previous.settings.image_column,
                                        text_column=caption, labeler=labeler)
            return _analyze_vectors(
                source=previous.source, columns=previous.columns, row_index=previous.row_index,
                texts=previous.texts, settings=settings, vectors=previous.embeddings,
                device=previous.device, model_name=previous.model, model_key=previous.model_key,
                model_choice=None, fp_embed=previous.fingerprints["embed"], progress=progress,
                cancel=cancel, previous=previous, timings=timings)
        # Another model: check and hash the images again, from the table the analysis keeps.
        table = SourceTable(path=Path(previous.source.path), format=previous.source.format,
                            columns=previous.columns)
        images = images_of_table(table, previous.settings.image_column, progress=progress,
                                 cancel=cancel)
    table, column = images.table, images.image_column
    caption = caption_column(table, column, settings.text_column)
    labeler = "numbered" if caption is None and settings.labeler == "keywords" else settings.labeler
    settings = settings.replace(image_column=column, text_column=caption, labeler=labeler)
    shown = table.columns[caption if caption is not None else column]
    row_index, paths, hashes = images.row_index, images.paths, images.hashes
    texts = [shown[i] for i in row_index.tolist()]
    problems = images.problems
    progress("load", 1.0, f"{len(paths):,} images in column {column!r}. {problems.summary()}")
    timings["load"] = round(time.perf_counter() - started, 4)
    cancel.check()

    # embed
    t = time.perf_counter()
    image_embedder = embedder if embedder is not None else make_image_embedder(settings)
    if not isinstance(image_embedder, ImageEmbedder):
        raise ModelError(f"{image_embedder.name} embeds texts; an image set needs a vision model.")
    fp_embed = _fingerprint(image_embedder.cache_key, _fingerprint(*hashes))
    if previous is not None and previous.fingerprints.get("embed") == fp_embed:
        vectors, device = previous.embeddings, previous.device
        progress("embed", 1.0, "Embeddings reused from the previous run")
    else:
        vectors, device, failed, more = embed_images(paths, hashes, image_embedder, progress,
                                                     cancel, cache)
        if failed.any():
            keep = np.flatnonzero(~failed)
            problems = problems.merged(more)
            row_index, vectors = row_index[keep], vectors[keep]
            texts = [texts[i] for i in keep]
            hashes = [hashes[i] for i in keep]
            fp_embed = _fingerprint(image_embedder.cache_key, _fingerprint(*hashes))
            if len(keep) < MIN_ROWS:
                raise TooFewRowsError(
                    f"Only {len(keep)} images of {table.path.name} could be read; Level needs at "
                    f"least {MIN_ROWS} to find clusters. {problems.summary()}")
    timings["embed"] = round(time.perf_counter() - t, 4)
    cancel.check()
    source = SourceInfo(path=str(table.path.resolve()),
                        content_hash=image_set_hash(table, images.hashes),
                        format=table.format, text_column=caption or column,
                        n_rows=table.n_rows, skipped_empty=table.n_rows - len(row_index),
                        ragged_rows=table.ragged_rows, decode_report=table.decode_report,
                        image_problems=problems.summary() if problems.total else None)
    return _analyze_vectors(
        source=source, columns=table.columns, row_index=row_index, texts=texts,
        settings=settings, vectors=vectors, device=device, model_name=image_embedder.name,
        model_key=image_embedder.cache_key, model_choice=None, fp_embed=fp_embed,
        progress=progress, cancel=cancel, previous=previous, timings=timings)


def image_paths(analysis: Analysis) -> list[Path] | None:
    """The image file of each analysed row of an image analysis, in row order (they need not
    exist any more); None for a text analysis."""
    return _image_files(analysis.columns, analysis.settings.image_column, analysis.row_index,
                        analysis.source)


def _image_files(columns: dict[str, list[str]], image_column: str | None, row_index: np.ndarray,
                 source: SourceInfo) -> list[Path] | None:
    if image_column is None or image_column not in columns:
        return None
    return [row_image_path(columns, image_column, i, source.path, source.format)
            for i in row_index.tolist()]


def _texts_are_file_names(settings: Settings) -> bool:
    """An image set without a caption column: its rows' texts are the image paths."""
    return settings.image_column is not None and settings.text_column is None


def make_topics(vectors: np.ndarray, texts: list[str], labels: np.ndarray, centroids: np.ndarray,
                sizes: np.ndarray, spreads: np.ndarray, settings: Settings,
                progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
                image_files: list[Path] | None = None, texts_are_file_names: bool = False
                ) -> tuple[list[TopicInfo], np.ndarray]:
    """Group the clusters into topics (core/topics.py) and name each from its rows with the
    chosen labeler. Returns the topics and each cluster's topic."""
    stats = ClusterStats(labels=labels, ids=np.arange(len(sizes)), sizes=np.asarray(sizes),
                         centroids=np.asarray(centroids), spreads=np.asarray(spreads))
    grouped = build_topics(stats)
    return (name_topics(grouped, texts, vectors, settings, progress, cancel,
                        image_files=image_files, texts_are_file_names=texts_are_file_names),
            grouped.of_cluster.astype(np.int32))


def label_clusters(texts: list[str], labels: np.ndarray, sizes: np.ndarray, spreads: np.ndarray,
                   reps: list[np.ndarray], settings: Settings,
                   progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
                   keep: dict[int, ClusterInfo] | None = None,
                   image_files: list[Path] | None = None, texts_are_file_names: bool = False
                   ) -> list[ClusterInfo]:
    """Name every cluster with the chosen labeler, except those in `keep` (names the user gave,
    by cluster id), which keep their name and are not sent to the labeler. For an image set,
    `image_files` are the rows' images: a labeler that looks at pictures (Gemini) is sent the
    representatives' thumbnails."""
    keep = keep or {}
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(len(sizes) + 1))
    docs = [ClusterDocs(cluster_id=c,
                        texts=[texts[i] for i in order[bounds[c]:bounds[c + 1]]],
                        representatives=[texts[i] for i in reps[c]],
                        texts_are_file_names=texts_are_file_names)
            for c in range(len(sizes)) if c not in keep]
    labeler = LABELERS.create(settings.labeler, settings)
    if image_files is not None and getattr(labeler, "sends_images", False):
        attach_thumbnails(docs, reps, image_files)
    named = labeler.label(docs, progress, cancel) if docs else {}
    return [dataclasses.replace(keep[c], size=int(sizes[c]), spread=float(spreads[c]),
                                representatives=reps[c].tolist()) if c in keep else
            ClusterInfo(id=c, size=int(sizes[c]), spread=float(spreads[c]),
                        label=named[c].label, description=named[c].description,
                        labeler=named[c].labeler, representatives=reps[c].tolist(),
                        fallback_reason=named[c].fallback_reason)
            for c in range(len(sizes))]


def relabel(analysis: Analysis, settings: Settings, progress: ProgressCallback = no_progress,
            cancel: CancelToken | None = None, rename_all: bool = False) -> Analysis:
    """Name a saved analysis's clusters and topics again with `settings.labeler` — the explicit
    action; a reopened project otherwise keeps its names. Clusters, topics, sizes and weights
    stay, and so do the names the user gave, unless `rename_all`."""
    settings.validate()
    reps = representatives(analysis.embeddings, analysis.labels, analysis.centroids,
                           settings.representatives)
    spreads = np.array([c.spread for c in analysis.clusters], dtype=np.float64)
    keep = {} if rename_all else {c.id: c for c in analysis.clusters if c.user_named}
    files, file_names = image_paths(analysis), _texts_are_file_names(analysis.settings)
    clusters = label_clusters(analysis.texts, analysis.labels, analysis.sizes, spreads, reps,
                              settings, progress, cancel, keep, image_files=files,
                              texts_are_file_names=file_names)
    fingerprints = {**analysis.fingerprints,
                    "label": label_fingerprint(analysis.fingerprints.get("cluster", ""), settings)}
    topics = analysis.topics
    if topics:
        stats = ClusterStats(labels=analysis.labels, ids=np.arange(len(spreads)),
                             sizes=analysis.sizes, centroids=analysis.centroids, spreads=spreads)
        grouped = topics_of_groups(stats, analysis.cluster_topic)  # the same topics, renamed
        named = name_topics(grouped, analysis.texts, analysis.embeddings, settings, progress,
                            cancel, image_files=files, texts_are_file_names=file_names)
        kept = {} if rename_all else {t.id: t for t in analysis.topics if t.user_named}
        topics = [dataclasses.replace(t, label=kept[t.id].label,
                                      description=kept[t.id].description, labeler="user",
                                      fallback_reason=None, user_named=True)
                  if t.id in kept else t for t in named]
    return dataclasses.replace(analysis, settings=settings, clusters=clusters,
                               fingerprints=fingerprints, topics=topics)

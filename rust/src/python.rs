//! The pyo3 bindings: thin wrappers that convert types and release the GIL around long work.
//! The contract for Python is `server/lore/_native.pyi`.

use crate::cache::ResponseCache as CoreCache;
use crate::chunk::{self, Format};
use crate::embed::HashedEmbedder as CoreEmbedder;
use crate::prepare::{self, PrepareOptions};
use crate::queue::{self, CancelOutcome, RequestQueue as CoreQueue, SubmitError};
use crate::walk::{self, WalkError, WalkOptions};
use crate::{hash, links, terms, text};
use pyo3::exceptions::{PyFileNotFoundError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The one place where core errors become Python exceptions.
fn to_py_err(err: WalkError) -> PyErr {
    match err {
        WalkError::NotADirectory(root) => PyFileNotFoundError::new_err(format!("not a directory: {root}")),
        WalkError::BadPattern(msg) => PyValueError::new_err(format!("bad exclude pattern {msg}")),
    }
}

fn format_arg(name: &str) -> PyResult<Format> {
    Format::parse(name).ok_or_else(|| PyValueError::new_err(format!("unknown format {name:?}: use markdown, rst or text")))
}

fn seconds(value: Option<f64>) -> PyResult<Option<Duration>> {
    match value {
        Some(s) if !s.is_finite() || s < 0.0 => Err(PyValueError::new_err("seconds must be a finite number >= 0")),
        Some(s) => Ok(Some(Duration::from_secs_f64(s))),
        None => Ok(None),
    }
}

// ---- walk ---------------------------------------------------------------------------------

#[pyclass(frozen, get_all, module = "lore._native")]
pub struct WalkEntry {
    path: String,
    rel_path: String,
    size: u64,
    mtime_ns: i64,
}

#[pyclass(frozen, get_all, module = "lore._native")]
pub struct SkippedFile {
    path: String,
    rel_path: String,
    reason: String,
}

#[pyclass(frozen, module = "lore._native")]
pub struct WalkResult {
    files: Vec<Py<WalkEntry>>,
    skipped: Vec<Py<SkippedFile>>,
}

#[pymethods]
impl WalkResult {
    #[getter]
    fn files(&self, py: Python<'_>) -> Vec<Py<WalkEntry>> {
        self.files.iter().map(|f| f.clone_ref(py)).collect()
    }
    #[getter]
    fn skipped(&self, py: Python<'_>) -> Vec<Py<SkippedFile>> {
        self.skipped.iter().map(|f| f.clone_ref(py)).collect()
    }
}

/// Walk `root` with ripgrep's walker; see the stub for the rules.
#[pyfunction]
#[pyo3(name = "walk", signature = (root, *, extensions, max_file_bytes, exclude = vec![], ignore_files = vec![".loreignore".to_string()], threads = 0))]
fn walk_folder(py: Python<'_>, root: String, extensions: Vec<String>, max_file_bytes: u64, exclude: Vec<String>, ignore_files: Vec<String>, threads: usize) -> PyResult<WalkResult> {
    let options = WalkOptions { extensions, max_file_bytes, exclude, ignore_files, threads };
    let result = py.allow_threads(|| walk::walk(&root, &options)).map_err(to_py_err)?;
    Ok(WalkResult {
        files: result
            .files
            .into_iter()
            .map(|f| Py::new(py, WalkEntry { path: f.path, rel_path: f.rel_path, size: f.size, mtime_ns: f.mtime_ns }))
            .collect::<PyResult<_>>()?,
        skipped: result
            .skipped
            .into_iter()
            .map(|s| Py::new(py, SkippedFile { path: s.path, rel_path: s.rel_path, reason: s.reason }))
            .collect::<PyResult<_>>()?,
    })
}

// ---- hash ---------------------------------------------------------------------------------

/// BLAKE3 of `data`, as 32 hex characters.
#[pyfunction]
fn hash_bytes(py: Python<'_>, data: &[u8]) -> String {
    if data.len() > 1 << 20 {
        py.allow_threads(|| hash::hash_bytes(data))
    } else {
        hash::hash_bytes(data)
    }
}

/// The hash of each file's content, in parallel; `None` where it cannot be read.
#[pyfunction]
fn hash_files(py: Python<'_>, paths: Vec<String>) -> Vec<Option<String>> {
    py.allow_threads(|| hash::hash_files(&paths))
}

// ---- chunks, terms, documents -------------------------------------------------------------

#[pyclass(frozen, get_all, name = "Chunk", module = "lore._native")]
#[derive(Clone)]
pub struct PyChunk {
    ordinal: usize,
    heading_path: Vec<String>,
    start_line: usize,
    end_line: usize,
    text: String,
    kind: String,
}

#[pymethods]
impl PyChunk {
    fn __repr__(&self) -> String {
        format!("Chunk(ordinal={}, lines={}-{}, heading_path={:?})", self.ordinal, self.start_line, self.end_line, self.heading_path)
    }
}

impl From<chunk::Chunk> for PyChunk {
    fn from(c: chunk::Chunk) -> Self {
        PyChunk { ordinal: c.ordinal, heading_path: c.heading_path, start_line: c.start_line, end_line: c.end_line, text: c.text, kind: c.kind.to_string() }
    }
}

#[pyclass(frozen, get_all, name = "Term", module = "lore._native")]
#[derive(Clone)]
pub struct PyTerm {
    text: String,
    kind: String,
    line: usize,
    heading_path: Vec<String>,
    anchor: String,
}

#[pymethods]
impl PyTerm {
    fn __repr__(&self) -> String {
        format!("Term({:?}, kind={:?}, line={})", self.text, self.kind, self.line)
    }
}

impl From<terms::Term> for PyTerm {
    fn from(t: terms::Term) -> Self {
        PyTerm { text: t.text, kind: t.kind.to_string(), line: t.line, heading_path: t.heading_path, anchor: t.anchor }
    }
}

#[pyclass(frozen, get_all, name = "Link", module = "lore._native")]
#[derive(Clone)]
pub struct PyLink {
    line: usize,
    col: usize,
    end_line: usize,
    end_col: usize,
    kind: String,
    target: String,
    anchor: String,
    text: String,
}

#[pymethods]
impl PyLink {
    fn __repr__(&self) -> String {
        format!("Link({:?}, kind={:?}, target={:?}, anchor={:?}, line={})", self.text, self.kind, self.target, self.anchor, self.line)
    }
}

impl From<links::Link> for PyLink {
    fn from(l: links::Link) -> Self {
        PyLink { line: l.line, col: l.col, end_line: l.end_line, end_col: l.end_col, kind: l.kind.to_string(), target: l.target, anchor: l.anchor, text: l.text }
    }
}

#[pyclass(frozen, get_all, name = "Anchor", module = "lore._native")]
#[derive(Clone)]
pub struct PyAnchor {
    name: String,
    line: usize,
    heading: String,
    kind: String,
}

#[pymethods]
impl PyAnchor {
    fn __repr__(&self) -> String {
        format!("Anchor({:?}, kind={:?}, line={})", self.name, self.kind, self.line)
    }
}

impl From<links::Anchor> for PyAnchor {
    fn from(a: links::Anchor) -> Self {
        PyAnchor { name: a.name, line: a.line, heading: a.heading, kind: a.kind.to_string() }
    }
}

#[pyclass(frozen, module = "lore._native")]
pub struct Document {
    inner: prepare::Document,
}

#[pymethods]
impl Document {
    #[getter]
    fn path(&self) -> &str {
        &self.inner.path
    }
    #[getter]
    fn rel_path(&self) -> &str {
        &self.inner.rel_path
    }
    #[getter]
    fn format(&self) -> &str {
        self.inner.format.name()
    }
    #[getter]
    fn content_hash(&self) -> &str {
        &self.inner.content_hash
    }
    #[getter]
    fn size(&self) -> u64 {
        self.inner.size
    }
    #[getter]
    fn mtime_ns(&self) -> i64 {
        self.inner.mtime_ns
    }
    #[getter]
    fn title(&self) -> &str {
        &self.inner.title
    }
    #[getter]
    fn encoding(&self) -> &str {
        self.inner.encoding
    }
    #[getter]
    fn error(&self) -> Option<&str> {
        self.inner.error.as_deref()
    }
    /// The chunks, in document order.
    #[getter]
    fn chunks(&self) -> Vec<PyChunk> {
        self.inner.chunks.iter().cloned().map(PyChunk::from).collect()
    }
    /// The terms, in document order.
    #[getter]
    fn terms(&self) -> Vec<PyTerm> {
        self.inner.terms.iter().cloned().map(PyTerm::from).collect()
    }
    /// The links, in document order.
    #[getter]
    fn links(&self) -> Vec<PyLink> {
        self.inner.links.iter().cloned().map(PyLink::from).collect()
    }
    /// The anchors its headings offer, in document order.
    #[getter]
    fn anchors(&self) -> Vec<PyAnchor> {
        self.inner.anchors.iter().cloned().map(PyAnchor::from).collect()
    }
    /// One little-endian float32 vector per chunk.
    #[getter]
    fn embeddings<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.inner.embeddings.iter().map(|e| PyBytes::new(py, e)).collect()
    }
    fn __repr__(&self) -> String {
        format!("Document({:?}, chunks={})", self.inner.rel_path, self.inner.chunks.len())
    }
}

/// `markdown`, `rst` or `text`, from the file's extension.
#[pyfunction]
fn detect_format(path: &str) -> &'static str {
    chunk::detect_format(path).name()
}

/// Split `text` into chunks along its structure.
#[pyfunction]
#[pyo3(signature = (text, format, *, max_chars = 1200, overlap_chars = 150))]
fn chunk_text(py: Python<'_>, text: &str, format: &str, max_chars: usize, overlap_chars: usize) -> PyResult<Vec<PyChunk>> {
    let format = format_arg(format)?;
    let chunks = py.allow_threads(|| chunk::chunk_text(text, format, max_chars, overlap_chars));
    Ok(chunks.into_iter().map(PyChunk::from).collect())
}

/// Headings, bold and definition-list terms, and identifiers in headings.
#[pyfunction]
fn extract_terms(text: &str, format: &str) -> PyResult<Vec<PyTerm>> {
    Ok(terms::extract_terms(text, format_arg(format)?).into_iter().map(PyTerm::from).collect())
}

/// The links and the heading anchors of `text`.
#[pyfunction]
fn extract_links(py: Python<'_>, text: &str, format: &str) -> PyResult<(Vec<PyLink>, Vec<PyAnchor>)> {
    let format = format_arg(format)?;
    let (found, anchors) = py.allow_threads(|| links::extract_links(text, format));
    Ok((found.into_iter().map(PyLink::from).collect(), anchors.into_iter().map(PyAnchor::from).collect()))
}

/// The document's title, or `fallback` when it has none.
#[pyfunction]
fn title_of(text: &str, format: &str, fallback: &str) -> PyResult<String> {
    Ok(chunk::title_of(text, format_arg(format)?, fallback))
}

/// Lower-cased identifier parts: `RequestQueue` gives `["request", "queue"]`.
#[pyfunction]
fn split_identifier(text: &str) -> Vec<String> {
    text::split_identifier(text)
}

/// The identifier parts joined by spaces: the key under which terms match.
#[pyfunction]
fn normalize_term(text: &str) -> String {
    text::normalize_term(text)
}

/// The GitHub-style anchor of a heading.
#[pyfunction]
fn slugify(heading: &str) -> String {
    text::slugify(heading)
}

/// Read, hash, decode, chunk, extract terms and embed each `(path, rel_path)`, in parallel.
#[pyfunction]
#[pyo3(signature = (files, *, max_chars = 1200, overlap_chars = 150, dim = 256, root = None, max_file_bytes = u64::MAX))]
fn prepare_documents(
    py: Python<'_>,
    files: Vec<(String, String)>,
    max_chars: usize,
    overlap_chars: usize,
    dim: usize,
    root: Option<String>,
    max_file_bytes: u64,
) -> PyResult<Vec<Document>> {
    if dim == 0 {
        return Err(PyValueError::new_err("dim must be positive"));
    }
    let options = PrepareOptions { max_chars, overlap_chars, dim, max_file_bytes };
    let root = root.map(std::path::PathBuf::from);
    let docs = py.allow_threads(|| prepare::prepare_documents(&files, root.as_deref(), options));
    Ok(docs.into_iter().map(|inner| Document { inner }).collect())
}

// ---- embeddings ---------------------------------------------------------------------------

/// Feature hashing of words, word pairs and character n-grams, L2-normalised.
#[pyclass(frozen, module = "lore._native")]
pub struct HashedEmbedder {
    inner: CoreEmbedder,
}

#[pymethods]
impl HashedEmbedder {
    #[new]
    #[pyo3(signature = (dim = 256))]
    fn new(dim: usize) -> PyResult<Self> {
        if dim == 0 {
            return Err(PyValueError::new_err("dim must be positive"));
        }
        Ok(HashedEmbedder { inner: CoreEmbedder::new(dim) })
    }
    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim
    }
    /// Such as `hashed-v1`; stored in the index beside the dimension.
    #[getter]
    fn identity(&self) -> &'static str {
        self.inner.identity()
    }
    /// One vector as little-endian float32 bytes.
    fn embed<'py>(&self, py: Python<'py>, text: &str) -> Bound<'py, PyBytes> {
        let v = self.inner.embed_bytes(text);
        PyBytes::new(py, &v)
    }
    /// Many vectors, in parallel, with the GIL released.
    fn embed_batch<'py>(&self, py: Python<'py>, texts: Vec<String>) -> Vec<Bound<'py, PyBytes>> {
        let inner = self.inner;
        let vectors = py.allow_threads(move || inner.embed_batch(&texts));
        vectors.iter().map(|v| PyBytes::new(py, v)).collect()
    }
}

// ---- ResponseCache ------------------------------------------------------------------------

/// A byte-budgeted LRU cache with a TTL; values are bytes.
#[pyclass(frozen, module = "lore._native")]
pub struct ResponseCache {
    inner: CoreCache,
}

#[pymethods]
impl ResponseCache {
    #[new]
    fn new(max_bytes: usize, ttl_s: f64) -> PyResult<Self> {
        let ttl = seconds(Some(ttl_s))?.unwrap_or_default();
        Ok(ResponseCache { inner: CoreCache::new(max_bytes, ttl) })
    }
    /// The value, refreshed as most recently used; `None` if absent or expired.
    fn get<'py>(&self, py: Python<'py>, key: &str) -> Option<Bound<'py, PyBytes>> {
        self.inner.get(key).map(|v| PyBytes::new(py, &v))
    }
    /// Store a value, evicting least recently used entries to stay within the budget.
    #[pyo3(signature = (key, value, ttl_s = None))]
    fn put(&self, key: &str, value: &[u8], ttl_s: Option<f64>) -> PyResult<()> {
        self.inner.put(key, value.to_vec(), seconds(ttl_s)?);
        Ok(())
    }
    /// Drop one key; whether it was there.
    fn invalidate(&self, key: &str) -> bool {
        self.inner.invalidate(key)
    }
    /// Drop every key that starts with `prefix`; the count dropped.
    fn invalidate_prefix(&self, prefix: &str) -> usize {
        self.inner.invalidate_prefix(prefix)
    }
    /// Drop everything (the statistics stay).
    fn clear(&self) {
        self.inner.clear()
    }
    fn __len__(&self) -> usize {
        self.inner.len()
    }
    /// hits, misses, evictions, expirations, entries, bytes, max_bytes.
    fn stats(&self) -> HashMap<&'static str, u64> {
        let s = self.inner.stats();
        HashMap::from([
            ("hits", s.hits),
            ("misses", s.misses),
            ("evictions", s.evictions),
            ("expirations", s.expirations),
            ("entries", s.entries),
            ("bytes", s.bytes),
            ("max_bytes", s.max_bytes),
        ])
    }
}

// ---- RequestQueue -------------------------------------------------------------------------

/// A job handed out by `RequestQueue.pop`.
#[pyclass(frozen, module = "lore._native")]
pub struct Job {
    #[pyo3(get)]
    id: u64,
    #[pyo3(get)]
    priority: &'static str,
    #[pyo3(get)]
    key: Option<String>,
    payload: Py<PyAny>,
    #[pyo3(get)]
    waited_s: f64,
    #[pyo3(get)]
    state: &'static str,
    flag: Arc<AtomicBool>,
}

#[pymethods]
impl Job {
    #[getter]
    fn payload(&self, py: Python<'_>) -> Py<PyAny> {
        self.payload.clone_ref(py)
    }
    /// True once `RequestQueue.cancel` was called for this job; long work checks it.
    #[getter]
    fn cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
    fn __repr__(&self) -> String {
        format!("Job(id={}, priority={:?}, state={:?})", self.id, self.priority, self.state)
    }
}

/// The priority request queue: interactive > user > background.
#[pyclass(frozen, module = "lore._native")]
pub struct RequestQueue {
    inner: CoreQueue<Py<PyAny>>,
}

fn per_class<T: Copy>(values: Option<HashMap<String, T>>) -> PyResult<[Option<T>; 3]> {
    let mut out = [None; 3];
    for (name, value) in values.unwrap_or_default() {
        let i = queue::class_index(&name).ok_or_else(|| PyValueError::new_err(format!("unknown priority class {name:?}")))?;
        out[i] = Some(value);
    }
    Ok(out)
}

#[pymethods]
impl RequestQueue {
    #[new]
    #[pyo3(signature = (*, concurrency = None, rate_per_s = None))]
    fn new(concurrency: Option<HashMap<String, usize>>, rate_per_s: Option<HashMap<String, f64>>) -> PyResult<Self> {
        Ok(RequestQueue { inner: CoreQueue::new(per_class(concurrency)?, per_class(rate_per_s)?) })
    }

    /// Queue `payload`; returns its id and the payloads of the waiting jobs it superseded.
    #[pyo3(signature = (priority, payload, *, deadline_s = None, key = None))]
    fn submit(&self, priority: &str, payload: Py<PyAny>, deadline_s: Option<f64>, key: Option<String>) -> PyResult<(u64, Vec<Py<PyAny>>)> {
        let class = queue::class_index(priority).ok_or_else(|| PyValueError::new_err(format!("unknown priority class {priority:?}")))?;
        self.inner.submit(class, payload, seconds(deadline_s)?, key).map_err(|e| match e {
            SubmitError::UnknownClass => PyValueError::new_err("unknown priority class"),
            SubmitError::Closed => PyRuntimeError::new_err("the request queue is closed"),
        })
    }

    /// The next job that may start, blocking with the GIL released.
    #[pyo3(signature = (timeout_s = None))]
    fn pop(&self, py: Python<'_>, timeout_s: Option<f64>) -> PyResult<Option<Job>> {
        let timeout = seconds(timeout_s)?;
        let popped = py.allow_threads(|| self.inner.pop(timeout));
        Ok(popped.map(|p| Job {
            id: p.id,
            priority: queue::CLASSES[p.class],
            key: p.key,
            payload: p.payload,
            waited_s: p.waited.as_secs_f64(),
            state: if p.expired { "expired" } else { "run" },
            flag: p.cancelled,
        }))
    }

    /// Mark a popped job finished, freeing its class's concurrency slot.
    fn complete(&self, job_id: u64) {
        self.inner.complete(job_id)
    }

    /// Drop a waiting job (`dropped`) or flag a running one (`flagged`).
    fn cancel(&self, job_id: u64) -> &'static str {
        match self.inner.cancel(job_id).0 {
            CancelOutcome::Dropped => "dropped",
            CancelOutcome::Flagged => "flagged",
            CancelOutcome::Unknown => "unknown",
        }
    }

    /// Refuse new work and wake every blocked `pop`.
    fn close(&self) {
        drop(self.inner.close());
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Per class: queued, running, submitted, started, completed, cancelled, superseded,
    /// expired, wait_p50_ms, wait_p95_ms.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (name, s) in self.inner.stats() {
            let d = PyDict::new(py);
            for (k, v) in [
                ("queued", s.queued as f64),
                ("running", s.running as f64),
                ("submitted", s.submitted as f64),
                ("started", s.started as f64),
                ("completed", s.completed as f64),
                ("cancelled", s.cancelled as f64),
                ("superseded", s.superseded as f64),
                ("expired", s.expired as f64),
                ("wait_p50_ms", s.wait_p50_ms),
                ("wait_p95_ms", s.wait_p95_ms),
            ] {
                d.set_item(k, v)?;
            }
            out.set_item(name, d)?;
        }
        Ok(out)
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<WalkEntry>()?;
    m.add_class::<SkippedFile>()?;
    m.add_class::<WalkResult>()?;
    m.add_class::<PyChunk>()?;
    m.add_class::<PyTerm>()?;
    m.add_class::<PyLink>()?;
    m.add_class::<PyAnchor>()?;
    m.add_class::<Document>()?;
    m.add_class::<HashedEmbedder>()?;
    m.add_class::<ResponseCache>()?;
    m.add_class::<Job>()?;
    m.add_class::<RequestQueue>()?;
    m.add_function(wrap_pyfunction!(walk_folder, m)?)?;
    m.add_function(wrap_pyfunction!(hash_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(hash_files, m)?)?;
    m.add_function(wrap_pyfunction!(detect_format, m)?)?;
    m.add_function(wrap_pyfunction!(chunk_text, m)?)?;
    m.add_function(wrap_pyfunction!(extract_terms, m)?)?;
    m.add_function(wrap_pyfunction!(extract_links, m)?)?;
    m.add_function(wrap_pyfunction!(title_of, m)?)?;
    m.add_function(wrap_pyfunction!(split_identifier, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_term, m)?)?;
    m.add_function(wrap_pyfunction!(slugify, m)?)?;
    m.add_function(wrap_pyfunction!(prepare_documents, m)?)?;
    Ok(())
}

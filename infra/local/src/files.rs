//! Objects as files under a root directory. Writes go to a temporary file that is fsynced and
//! then renamed (or, for put-if-absent, hard-linked, which fails atomically if the name is
//! taken), so a reader or a crash never sees a torn object.

use std::{
    fs::{self, File},
    io::{ErrorKind, Read, Seek, SeekFrom, Write},
    ops::Range,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use bytes::Bytes;
use snapkb_store::{ListPage, ObjectMeta, ObjectStore, StoreError, StoreResult};

use crate::blocking;

const TEMP_PREFIX: &str = ".tmp-";

/// A filesystem object store rooted at a directory.
#[derive(Debug, Clone)]
pub struct FileObjectStore {
    root: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn io(e: std::io::Error) -> StoreError {
    if e.kind() == ErrorKind::NotFound {
        StoreError::NotFound { key: String::new() }
    } else {
        StoreError::Backend(e.to_string())
    }
}

fn not_found(key: &str) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| {
        if e.kind() == ErrorKind::NotFound {
            StoreError::NotFound {
                key: key.to_string(),
            }
        } else {
            StoreError::Backend(format!("{key}: {e}"))
        }
    }
}

impl FileObjectStore {
    /// Uses (and creates) `root`.
    pub fn open(root: impl Into<PathBuf>) -> StoreResult<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(io)?;
        Ok(Self { root })
    }

    /// The file of a key. Keys are `/`-separated segments of printable characters; empty
    /// segments, `.`, `..` and names starting with the temp-file prefix are refused.
    fn path(&self, key: &str) -> StoreResult<PathBuf> {
        let invalid =
            || StoreError::Invalid(format!("object key `{key}` is not a valid relative path"));
        if key.is_empty() || key.len() > 1024 || key.chars().any(|c| c.is_control() || c == '\\') {
            return Err(invalid());
        }
        let mut path = self.root.clone();
        for segment in key.split('/') {
            if segment.is_empty()
                || segment == "."
                || segment == ".."
                || segment.starts_with(TEMP_PREFIX)
            {
                return Err(invalid());
            }
            path.push(segment);
        }
        Ok(path)
    }

    /// Writes `body` to a new temporary file beside `path`, fsynced.
    fn write_temp(path: &Path, body: &[u8]) -> StoreResult<PathBuf> {
        let dir = path
            .parent()
            .ok_or_else(|| StoreError::Invalid("object key has no parent".into()))?;
        Self::create_dir_durably(dir)?;
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!("{TEMP_PREFIX}{}-{n}", std::process::id()));
        let mut file = File::create(&temp).map_err(io)?;
        file.write_all(body)
            .and_then(|()| file.sync_all())
            .map_err(|e| {
                let _ = fs::remove_file(&temp);
                io(e)
            })?;
        Ok(temp)
    }

    /// Creates `dir` and its missing parents, fsyncing the directory that holds each new one,
    /// so a crash cannot lose the directory of an object that was acknowledged.
    fn create_dir_durably(dir: &Path) -> StoreResult<()> {
        if dir.is_dir() {
            return Ok(());
        }
        let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
        fs::create_dir_all(dir).map_err(io)?;
        for created in missing.iter().rev() {
            Self::sync_dir(created);
        }
        Ok(())
    }

    fn sync_dir(path: &Path) {
        // Makes the new directory entry durable; failure only weakens durability, not atomicity.
        if let Some(d) = path.parent().and_then(|dir| File::open(dir).ok()) {
            let _ = d.sync_all();
        }
    }

    fn list_sync(&self, prefix: &str, after: Option<&str>, limit: usize) -> StoreResult<ListPage> {
        // Walk only the deepest directory the prefix names.
        let base = match prefix.rfind('/') {
            Some(i) => self
                .path(&prefix[..i])
                .unwrap_or_else(|_| self.root.join("\u{0}")),
            None => self.root.clone(),
        };
        let mut found: Vec<ObjectMeta> = Vec::new();
        let mut stack = vec![base];
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e)
                    if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory =>
                {
                    continue;
                }
                Err(e) => return Err(io(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io)?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(TEMP_PREFIX) {
                    continue;
                }
                let meta = entry.metadata().map_err(io)?;
                if meta.is_dir() {
                    stack.push(entry.path());
                    continue;
                }
                let rel = entry
                    .path()
                    .strip_prefix(&self.root)
                    .map_err(|e| StoreError::Backend(e.to_string()))?
                    .to_path_buf();
                let key = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                if key.starts_with(prefix) && after.is_none_or(|a| key.as_str() > a) {
                    found.push(ObjectMeta {
                        key,
                        size: meta.len(),
                    });
                }
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(ListPage::from_overfetched(found, limit))
    }
}

#[async_trait::async_trait]
impl ObjectStore for FileObjectStore {
    async fn put(&self, key: &str, body: Bytes) -> StoreResult<()> {
        let path = self.path(key)?;
        blocking(move || {
            let temp = Self::write_temp(&path, &body)?;
            fs::rename(&temp, &path).map_err(|e| {
                let _ = fs::remove_file(&temp);
                io(e)
            })?;
            Self::sync_dir(&path);
            Ok(())
        })
        .await
    }

    async fn put_if_absent(&self, key: &str, body: Bytes) -> StoreResult<bool> {
        let path = self.path(key)?;
        blocking(move || {
            let temp = Self::write_temp(&path, &body)?;
            // A hard link to an existing name fails: the atomic create-if-absent.
            let linked = fs::hard_link(&temp, &path);
            let _ = fs::remove_file(&temp);
            match linked {
                Ok(()) => {
                    Self::sync_dir(&path);
                    Ok(true)
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(io(e)),
            }
        })
        .await
    }

    async fn get(&self, key: &str) -> StoreResult<Bytes> {
        let path = self.path(key)?;
        let key = key.to_string();
        blocking(move || fs::read(&path).map(Bytes::from).map_err(not_found(&key))).await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> StoreResult<Bytes> {
        let path = self.path(key)?;
        let key = key.to_string();
        blocking(move || {
            let mut file = File::open(&path).map_err(not_found(&key))?;
            let size = file.metadata().map_err(io)?.len();
            let end = range.end.min(size);
            let start = range.start.min(end);
            file.seek(SeekFrom::Start(start)).map_err(io)?;
            let mut buf = vec![0u8; (end - start) as usize];
            file.read_exact(&mut buf).map_err(io)?;
            Ok(Bytes::from(buf))
        })
        .await
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        let path = self.path(key)?;
        let key = key.to_string();
        blocking(move || match fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(ObjectMeta { key, size: m.len() })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        })
        .await
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        let path = self.path(key)?;
        blocking(move || match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        })
        .await
    }

    async fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> StoreResult<ListPage> {
        let store = self.clone();
        let (prefix, after) = (prefix.to_string(), after.map(str::to_string));
        blocking(move || store.list_sync(&prefix, after.as_deref(), limit)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_the_root_or_name_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileObjectStore::open(dir.path()).unwrap();
        for bad in [
            "", "../x", "a/../b", "/abs", "a//b", "a/./b", "a/.tmp-1", "a\\b", "a\nb",
        ] {
            assert!(
                matches!(store.path(bad), Err(StoreError::Invalid(_))),
                "{bad:?} accepted"
            );
        }
        assert_eq!(
            store.path("p/snapshots/v1").unwrap(),
            dir.path().join("p/snapshots/v1")
        );
    }
}

use super::*;

fn open(dir: &Path) -> (Wal, Vec<WalRecord>) {
    Wal::open(dir, Durability::Fsync, 1 << 20, None).unwrap()
}

#[test]
fn appended_records_are_replayed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (wal, recs) = open(dir.path());
        assert!(recs.is_empty());
        assert_eq!(wal.append(b"one").unwrap(), 1);
        assert_eq!(wal.append(b"two").unwrap(), 2);
    }
    let (wal, recs) = open(dir.path());
    let got: Vec<_> = recs.iter().map(|r| (r.seq, r.payload.clone())).collect();
    assert_eq!(got, vec![(1, b"one".to_vec()), (2, b"two".to_vec())]);
    assert_eq!(wal.append(b"three").unwrap(), 3);
}

#[test]
fn torn_tail_is_cut_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (wal, _) = open(dir.path());
        wal.append(b"first").unwrap();
        wal.append(b"second").unwrap();
    }
    let file = list_files(dir.path()).unwrap().pop().unwrap();
    let len = fs::metadata(&file).unwrap().len();
    // Cut the last record in half, as a crash mid-write would.
    OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    {
        let (wal, recs) = open(dir.path());
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].payload, b"first");
        assert_eq!(wal.append(b"third").unwrap(), 2);
    }
    let (_, recs) = open(dir.path());
    let got: Vec<_> = recs.iter().map(|r| r.payload.clone()).collect();
    assert_eq!(got, vec![b"first".to_vec(), b"third".to_vec()]);
}

#[test]
fn corrupt_record_in_an_older_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (wal, _) = Wal::open(dir.path(), Durability::Fsync, 64, None).unwrap();
        for i in 0..4u8 {
            wal.append(&[i; 40]).unwrap();
        }
    }
    let files = list_files(dir.path()).unwrap();
    assert!(files.len() >= 2, "rotation should have made several files");
    let mut bytes = fs::read(&files[0]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&files[0], &bytes).unwrap();
    let err = Wal::open(dir.path(), Durability::Fsync, 64, None)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains(files[0].to_str().unwrap()),
        "{err}"
    );
}

#[test]
fn concurrent_writers_share_group_commits_and_all_survive() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (wal, _) = open(dir.path());
        let wal = std::sync::Arc::new(wal);
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let wal = wal.clone();
                std::thread::spawn(move || {
                    for i in 0..50u32 {
                        wal.append(&[t as u8, (i % 256) as u8]).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
    let (_, recs) = open(dir.path());
    assert_eq!(recs.len(), 400);
    let seqs: Vec<u64> = recs.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=400).collect::<Vec<_>>());
}

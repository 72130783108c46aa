//! CTC decoders and metrics (`kairo::decode`) with hand-checked expectations.
//! CPU only.

use kairo::decode::{beam_search, beam_search_batch, cer, edit_distance, greedy, greedy_batch, wer, Alphabet, ErrorRate};

/// Frames of log-probabilities from rows of probabilities.
fn frames(rows: &[&[f32]]) -> Vec<f32> {
    rows.iter().flat_map(|r| r.iter().map(|p| p.ln())).collect()
}

/// One-hot-ish frames for a class per frame (0.9 on it, the rest shared).
fn peaked(classes: &[usize], c: usize) -> Vec<f32> {
    let rest = 0.1 / (c - 1) as f32;
    classes.iter().flat_map(|&k| (0..c).map(move |j| if j == k { 0.9f32 } else { rest }.ln())).collect()
}

#[test]
fn alphabet_maps_english_letters_space_and_apostrophe() {
    let a = Alphabet::english();
    assert_eq!(a.classes(), 29);
    assert_eq!(a.blank(), 0);
    assert_eq!(a.char_of(0), None);
    assert_eq!(a.char_of(1), Some('a'));
    assert_eq!(a.char_of(26), Some('z'));
    assert_eq!(a.char_of(27), Some(' '));
    assert_eq!(a.char_of(28), Some('\''));
    assert_eq!(a.char_of(29), None);
    assert_eq!(a.encode("it's a b").unwrap(), vec![9, 20, 28, 19, 27, 1, 27, 2]);
    assert_eq!(a.encode("ABC").unwrap(), vec![1, 2, 3], "capitals read as lower case");
    assert_eq!(a.decode(&[8, 9, 0, 27, 20, 8, 5, 18, 5]), "hi there");
    assert_eq!(a.decode(&a.encode("don't stop").unwrap()), "don't stop");
    for bad in ["héllo", "hello!", "tab\there", "7"] {
        let e = a.encode(bad).unwrap_err().to_string();
        assert!(e.contains("not in the alphabet"), "{bad}: {e}");
    }
    assert!(Alphabet::new(&['a', 'b', 'a']).is_err());
}

#[test]
fn greedy_collapses_repeats_and_drops_blanks() {
    let a = Alphabet::english();
    let c = a.classes();
    // c c _ a a t → "cat"; h _ h → "hh" (a blank separates the repeat).
    let cat = [3, 3, 0, 1, 1, 20];
    assert_eq!(a.decode(&greedy(&peaked(&cat, c), c, 0)), "cat");
    let hh = [8, 0, 8, 8];
    assert_eq!(a.decode(&greedy(&peaked(&hh, c), c, 0)), "hh");
    assert_eq!(greedy(&peaked(&[0, 0, 0], c), c, 0), Vec::<u32>::new());
    // Blank at a non-zero index: class 2 is blank, so 1 2 1 → [1, 1].
    assert_eq!(greedy(&peaked(&[1, 2, 1, 0, 0], 3), 3, 2), vec![1, 1, 0]);
}

#[test]
fn greedy_batch_reads_time_first_batches_up_to_each_length() {
    // (T=3, N=2, C=3): utterance 0 frames 1,1,2 → [1, 2]; utterance 1 frames 2,0,(1 past its length 2) → [2].
    let (t, n, c) = (3, 2, 3);
    let per_utt = [[1, 1, 2], [2, 0, 1]];
    let mut lp = vec![0.0; t * n * c];
    for ti in 0..t {
        for b in 0..n {
            for k in 0..c {
                lp[(ti * n + b) * c + k] = if k == per_utt[b][ti] { -0.1 } else { -3.0 };
            }
        }
    }
    assert_eq!(greedy_batch(&lp, [t, n, c], &[3, 2], 0).unwrap(), vec![vec![1, 2], vec![2]]);
    assert_eq!(beam_search_batch(&lp, [t, n, c], &[3, 2], 0, 4).unwrap(), vec![vec![1, 2], vec![2]]);
    assert!(greedy_batch(&lp, [t, n, c], &[4, 2], 0).is_err());
}

#[test]
fn beam_search_sums_alignments_where_greedy_picks_one_path() {
    // Two frames, classes {blank, 'a'}, p = (0.6, 0.4) at each. Best path:
    // blank blank = "" with 0.36. But "a" collects a_ (0.24), _a (0.24) and
    // aa (0.16) = 0.64, so beam search says "a".
    let lp = frames(&[&[0.6, 0.4], &[0.6, 0.4]]);
    assert_eq!(greedy(&lp, 2, 0), Vec::<u32>::new());
    let hyps = beam_search(&lp, 2, 0, 4).unwrap();
    assert_eq!(hyps[0].labels, vec![1]);
    assert!((hyps[0].log_prob - 0.64f64.ln()).abs() < 1e-6, "{hyps:?}");
    // Then "" (0.36); "aa" needs a blank between, impossible in two frames.
    assert_eq!(hyps[1].labels, Vec::<u32>::new());
    assert!((hyps[1].log_prob - 0.36f64.ln()).abs() < 1e-6);
    assert_eq!(hyps.len(), 2);
}

#[test]
fn beam_search_keeps_repeats_apart_only_through_blanks() {
    // Three frames over {blank, a, b}: a, blank, a (peaked) → "aa";
    // a, a, a → "a".
    let aba = frames(&[&[0.1, 0.8, 0.1], &[0.8, 0.1, 0.1], &[0.1, 0.8, 0.1]]);
    assert_eq!(beam_search(&aba, 3, 0, 8).unwrap()[0].labels, vec![1, 1]);
    let aaa = frames(&[&[0.1, 0.8, 0.1], &[0.1, 0.8, 0.1], &[0.1, 0.8, 0.1]]);
    assert_eq!(beam_search(&aaa, 3, 0, 8).unwrap()[0].labels, vec![1]);
    // Sum of all hypotheses' probabilities with an unbounded beam is 1.
    let all = beam_search(&aba, 3, 0, 1000).unwrap();
    let total: f64 = all.iter().map(|h| h.log_prob.exp()).sum();
    assert!((total - 1.0).abs() < 1e-6, "{total}");
    // Width 1 on peaked frames agrees with greedy.
    let a = Alphabet::english();
    let lp = peaked(&[19, 19, 16, 0, 5, 5, 0, 5, 3, 8], a.classes());
    assert_eq!(a.decode(&beam_search(&lp, a.classes(), 0, 1).unwrap()[0].labels), "speech");
    assert_eq!(a.decode(&greedy(&lp, a.classes(), 0)), "speech");
    assert!(beam_search(&lp, a.classes(), 0, 0).is_err());
}

#[test]
fn edit_distance_cer_and_wer() {
    let chars = |s: &str| s.chars().collect::<Vec<_>>();
    assert_eq!(edit_distance(&chars("kitten"), &chars("sitting")), 3);
    assert_eq!(edit_distance(&chars(""), &chars("abc")), 3);
    assert_eq!(edit_distance(&chars("abc"), &chars("abc")), 0);
    assert_eq!(edit_distance(&chars("flaw"), &chars("lawn")), 2);
    // "hello world" → "helo wrld": two deletions over 11 characters.
    assert!((cer("hello world", "helo wrld") - 2.0 / 11.0).abs() < 1e-12);
    // One substitution in three words; one insertion in three words.
    assert!((wer("the cat sat", "the bat sat") - 1.0 / 3.0).abs() < 1e-12);
    assert!((wer("the cat sat", "the cat sat down") - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(wer("one two", "one two"), 0.0);
    assert_eq!(cer("", ""), 0.0);
    assert_eq!(cer("", "ab"), 2.0);
    // Corpus totals: (1 + 2) edits over (3 + 4) characters.
    let mut e = ErrorRate::default();
    e.add_chars("abc", "abd");
    e.add_chars("abcd", "ab");
    assert_eq!((e.edits, e.reference_len), (3, 7));
    assert!((e.rate() - 3.0 / 7.0).abs() < 1e-12);
}

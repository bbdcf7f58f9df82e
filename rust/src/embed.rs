//! Hashed embeddings: feature hashing of words, word pairs and character n-grams.
//!
//! Offline, deterministic and model-free. Each feature is hashed (FNV-1a) into one of `dim`
//! buckets with a sign taken from another bit of the hash, so collisions tend to cancel rather
//! than pile up. Counts are damped (1 + ln n), weighted by kind, and the vector is L2-normalised,
//! so the dot product of two vectors is their cosine similarity.

use crate::text::split_identifier;
use rayon::prelude::*;
use std::collections::HashMap;

/// Changes whenever the features or the hashing change: an index built with another identity
/// is re-embedded.
pub const IDENTITY: &str = "hashed-v1";

const WORD_WEIGHT: f32 = 1.0;
const PAIR_WEIGHT: f32 = 0.6;
const NGRAM_WEIGHT: f32 = 0.25;

const STOPWORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been", "but",
    "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "how", "i", "if",
    "in", "into", "is", "it", "its", "may", "more", "most", "no", "not", "of", "on", "or", "our",
    "should", "so", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "those", "to", "up", "use", "was", "we", "were", "what", "when", "where", "which", "while",
    "who", "why", "will", "with", "would", "you", "your",
];

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for &b in bytes {
        hash ^= b as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // A final mix so that nearby inputs spread over the buckets.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^ (hash >> 33)
}

/// The words of `text` that carry meaning: lower case, identifier parts split, stopwords out.
pub fn content_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    for token in text.split_whitespace() {
        for part in split_identifier(token) {
            if part.len() > 1 && !STOPWORDS.contains(&part.as_str()) {
                words.push(part);
            }
        }
    }
    words
}

#[derive(Clone, Copy, Debug)]
pub struct HashedEmbedder {
    pub dim: usize,
}

impl HashedEmbedder {
    pub fn new(dim: usize) -> Self {
        HashedEmbedder { dim: dim.max(1) }
    }

    pub fn identity(&self) -> &'static str {
        IDENTITY
    }

    /// The embedding of `text`, L2-normalised (all zeros for text without words).
    pub fn embed(&self, text: &str) -> Vec<f32> {
        let words = content_words(text);
        let mut counts: HashMap<u64, (f32, f32)> = HashMap::new();
        let mut add = |feature: &[u8], seed: u64, weight: f32| {
            let h = fnv1a(feature, seed);
            let entry = counts.entry(h).or_insert((0.0, weight));
            entry.0 += 1.0;
        };
        for w in &words {
            add(w.as_bytes(), 1, WORD_WEIGHT);
            let marked: Vec<char> = format!("<{w}>").chars().collect();
            for n in 3..=5 {
                for gram in marked.windows(n) {
                    let g: String = gram.iter().collect();
                    add(g.as_bytes(), 3, NGRAM_WEIGHT);
                }
            }
        }
        for pair in words.windows(2) {
            let joined = format!("{} {}", pair[0], pair[1]);
            add(joined.as_bytes(), 2, PAIR_WEIGHT);
        }
        let mut vector = vec![0f32; self.dim];
        for (h, (count, weight)) in counts {
            let bucket = (h % self.dim as u64) as usize;
            let sign = if (h >> 63) & 1 == 1 { -1.0 } else { 1.0 };
            vector[bucket] += sign * weight * (1.0 + count.ln());
        }
        let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|v| *v /= norm);
        }
        vector
    }

    /// `embed` as `dim` little-endian f32 values: the format sqlite-vec takes.
    pub fn embed_bytes(&self, text: &str) -> Vec<u8> {
        self.embed(text).iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// Many embeddings, in parallel.
    pub fn embed_batch(&self, texts: &[String]) -> Vec<Vec<u8>> {
        texts.par_iter().map(|t| self.embed_bytes(t)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn normalised_and_deterministic() {
        let e = HashedEmbedder::new(256);
        let v = e.embed("The request queue orders work by priority");
        assert_eq!(v.len(), 256);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
        assert_eq!(v, e.embed("The request queue orders work by priority"));
        assert_eq!(e.embed_bytes("x y z").len(), 256 * 4);
        assert!(e.embed("the of and").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn similar_texts_are_closer() {
        let e = HashedEmbedder::new(256);
        let q = e.embed("RequestQueue priority");
        let near = e.embed("The request queue orders requests by priority class.");
        let far = e.embed("Card refunds are processed by the refunds worker every five minutes.");
        assert!(cos(&q, &near) > cos(&q, &far) + 0.1, "{} vs {}", cos(&q, &near), cos(&q, &far));
        // Character n-grams give partial credit to morphological variants.
        let a = e.embed("settlement");
        let b = e.embed("settlements");
        assert!(cos(&a, &b) > 0.5);
    }
}

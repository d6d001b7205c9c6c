//! `words!`: the word each value of a state enum prints and journals as, and back.

/// The words of a state enum: `as_str` for printing, `parse` for reading one back, `Display`
/// (padding honoured like a `&str`'s), and comparison with a word.
macro_rules! words {
    ($t:ident { $($v:ident => $w:literal),+ $(,)? }) => {
        impl $t {
            /// The word printed (and journalled) for this value.
            pub const fn as_str(&self) -> &'static str {
                match *self {
                    $($t::$v => $w),+
                }
            }

            /// The value a word names; None for a word this version does not know.
            pub fn parse(word: &str) -> Option<$t> {
                match word {
                    $($w => Some($t::$v),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, word: &str) -> bool {
                self.as_str() == word
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, word: &&str) -> bool {
                self.as_str() == *word
            }
        }
    };
}

pub(crate) use words;

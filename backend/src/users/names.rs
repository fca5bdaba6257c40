//! Friendly generated usernames such as `Brave_Fox`.

use rand::seq::IndexedRandom;

const ADJECTIVES: &[&str] = &[
    "Agile", "Amber", "Bold", "Brave", "Bright", "Calm", "Clever", "Cosmic", "Crisp", "Daring", "Deft", "Eager",
    "Fair", "Fast", "Fierce", "Gentle", "Glad", "Golden", "Grand", "Happy", "Hardy", "Honest", "Jolly", "Keen", "Kind",
    "Lively", "Lucky", "Lunar", "Merry", "Mighty", "Misty", "Noble", "Nimble", "Polar", "Proud", "Quick", "Quiet",
    "Rapid", "Rusty", "Sharp", "Shiny", "Silent", "Silver", "Sly", "Smart", "Solar", "Steady", "Stormy", "Sunny",
    "Swift", "Tidy", "Vivid", "Wild", "Wise", "Witty", "Young", "Zesty",
];

const ANIMALS: &[&str] = &[
    "Badger", "Bear", "Beaver", "Bison", "Crane", "Crow", "Deer", "Dolphin", "Eagle", "Falcon", "Ferret", "Finch",
    "Fox", "Gecko", "Goose", "Hare", "Hawk", "Heron", "Ibex", "Jaguar", "Koala", "Lark", "Lemur", "Lion", "Lynx",
    "Marten", "Mole", "Moose", "Newt", "Otter", "Owl", "Panda", "Panther", "Puffin", "Quail", "Raven", "Robin", "Seal",
    "Shark", "Sparrow", "Stoat", "Swan", "Tiger", "Toad", "Viper", "Walrus", "Whale", "Wolf", "Wren", "Yak",
];

/// A fresh candidate; after a few collisions callers ask for a numbered one.
pub fn generate(numbered: bool) -> String {
    let mut rng = rand::rng();
    let adjective = ADJECTIVES.choose(&mut rng).expect("non-empty");
    let animal = ANIMALS.choose(&mut rng).expect("non-empty");
    if numbered {
        format!("{adjective}_{animal}_{}", rand::random_range(10..10_000))
    } else {
        format!("{adjective}_{animal}")
    }
}

//! Friendly generated usernames such as `Brave_Teal_Fox`: an adjective, a colour and an
//! animal, nearly two million names before any needs a number.

use rand::seq::IndexedRandom;

#[rustfmt::skip]
const ADJECTIVES: &[&str] = &[
    "Agile", "Bold", "Brave", "Breezy", "Bright", "Brisk", "Bubbly", "Calm", "Candid", "Cheerful", "Chill",
    "Clever", "Cosmic", "Cozy", "Crisp", "Curious", "Dapper", "Daring", "Deft", "Dreamy", "Eager", "Earnest",
    "Electric", "Epic", "Fair", "Fancy", "Fast", "Fearless", "Fierce", "Fluffy", "Frank", "Free", "Fresh",
    "Friendly", "Frosty", "Funny", "Gallant", "Gentle", "Giant", "Glad", "Gleeful", "Graceful", "Grand", "Happy",
    "Hardy", "Hearty", "Hidden", "Honest", "Humble", "Jolly", "Jovial", "Joyful", "Keen", "Kind", "Lively", "Lofty",
    "Loyal", "Lucky", "Lunar", "Magic", "Mellow", "Merry", "Mighty", "Misty", "Modest", "Mystic", "Neat", "Nifty",
    "Nimble", "Noble", "Peppy", "Plucky", "Polar", "Polite", "Proud", "Quick", "Quiet", "Quirky", "Radiant",
    "Rapid", "Ready", "Regal", "Royal", "Rustic", "Sassy", "Savvy", "Serene", "Sharp", "Shiny", "Shy", "Silent",
    "Sleek", "Sly", "Smart", "Snowy", "Snug", "Solar", "Sparkly", "Speedy", "Spirited", "Spry", "Stark", "Steady",
    "Stellar", "Stormy", "Stout", "Sturdy", "Sunny", "Super", "Sweet", "Swift", "Tender", "Thrifty", "Tidy", "Tiny",
    "Trusty", "Upbeat", "Valiant", "Vast", "Vivid", "Wandering", "Warm", "Whimsical", "Wild", "Windy", "Wise",
    "Witty", "Young", "Zany", "Zesty", "Zippy",
];

#[rustfmt::skip]
const COLOURS: &[&str] = &[
    "Amber", "Aqua", "Azure", "Beige", "Black", "Blue", "Bronze", "Brown", "Cedar", "Cerise", "Charcoal", "Cherry",
    "Chestnut", "Cobalt", "Copper", "Coral", "Cream", "Crimson", "Cyan", "Denim", "Ebony", "Emerald", "Fuchsia",
    "Garnet", "Ginger", "Gold", "Green", "Grey", "Hazel", "Indigo", "Ivory", "Jade", "Khaki", "Lemon", "Lilac",
    "Lime", "Magenta", "Mahogany", "Maroon", "Mauve", "Mint", "Navy", "Ochre", "Olive", "Onyx", "Orange", "Peach",
    "Pearl", "Pink", "Plum", "Purple", "Red", "Rose", "Ruby", "Rust", "Saffron", "Sage", "Sand", "Sapphire",
    "Scarlet", "Sepia", "Sienna", "Silver", "Slate", "Tan", "Taupe", "Teal", "Topaz", "Turquoise", "Umber",
    "Violet", "White", "Yellow",
];

#[rustfmt::skip]
const ANIMALS: &[&str] = &[
    "Aardvark", "Albatross", "Alpaca", "Anteater", "Antelope", "Armadillo", "Badger", "Bat", "Bear", "Beaver",
    "Bee", "Beetle", "Bison", "Boar", "Bobcat", "Buffalo", "Butterfly", "Camel", "Capybara", "Caribou", "Cat",
    "Cheetah", "Chipmunk", "Cicada", "Clam", "Cobra", "Condor", "Cougar", "Coyote", "Crab", "Crane", "Cricket",
    "Crow", "Cuckoo", "Deer", "Dingo", "Dolphin", "Donkey", "Dove", "Dragonfly", "Duck", "Eagle", "Eel", "Egret",
    "Elk", "Emu", "Falcon", "Ferret", "Finch", "Firefly", "Flamingo", "Fox", "Frog", "Gazelle", "Gecko", "Gerbil",
    "Gibbon", "Giraffe", "Gnu", "Goat", "Goose", "Gopher", "Gorilla", "Grouse", "Gull", "Hamster", "Hare", "Hawk",
    "Hedgehog", "Heron", "Hippo", "Hornet", "Horse", "Hummingbird", "Hyena", "Ibex", "Ibis", "Iguana", "Impala",
    "Jackal", "Jaguar", "Jay", "Jellyfish", "Kangaroo", "Kestrel", "Kingfisher", "Kitten", "Kiwi", "Koala", "Koi",
    "Ladybug", "Lark", "Lemur", "Leopard", "Lion", "Lizard", "Llama", "Lobster", "Locust", "Loon", "Lynx", "Macaw",
    "Magpie", "Mallard", "Manatee", "Mantis", "Marlin", "Marmot", "Marten", "Meerkat", "Mink", "Mole", "Mongoose",
    "Monkey", "Moose", "Moth", "Mouse", "Mule", "Narwhal", "Newt", "Nightingale", "Ocelot", "Octopus", "Okapi",
    "Opossum", "Orca", "Oriole", "Osprey", "Ostrich", "Otter", "Owl", "Ox", "Oyster", "Panda", "Panther", "Parrot",
    "Partridge", "Peacock", "Pelican", "Penguin", "Pheasant", "Pigeon", "Pika", "Platypus", "Pony", "Porcupine",
    "Puffin", "Puma", "Python", "Quail", "Quokka", "Rabbit", "Raccoon", "Ram", "Raven", "Reindeer", "Rhino",
    "Robin", "Salamander", "Salmon", "Sardine", "Seahorse", "Seal", "Shark", "Sheep", "Shrew", "Shrimp", "Skunk",
    "Sloth", "Snail", "Sparrow", "Spider", "Squid", "Squirrel", "Starfish", "Stingray", "Stoat", "Stork", "Swallow",
    "Swan", "Tapir", "Tarsier", "Termite", "Tiger", "Toad", "Tortoise", "Toucan", "Trout", "Tuna", "Turkey",
    "Turtle", "Viper", "Vole", "Vulture", "Wallaby", "Walrus", "Warthog", "Wasp", "Weasel", "Whale", "Wolf",
    "Wombat", "Woodpecker", "Wren", "Yak", "Zebra",
];

/// A fresh candidate; after a few collisions callers ask for a numbered one.
pub fn generate(numbered: bool) -> String {
    let mut rng = rand::rng();
    let adjective = ADJECTIVES.choose(&mut rng).expect("non-empty");
    let colour = COLOURS.choose(&mut rng).expect("non-empty");
    let animal = ANIMALS.choose(&mut rng).expect("non-empty");
    if numbered {
        format!("{adjective}_{colour}_{animal}_{}", rand::random_range(10..10_000))
    } else {
        format!("{adjective}_{colour}_{animal}")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn over_a_million_distinct_names_come_before_any_number() {
        let lists = [ADJECTIVES, COLOURS, ANIMALS];
        let mut seen = HashSet::new();
        for word in lists.iter().flat_map(|list| list.iter()) {
            assert!(seen.insert(*word), "{word} appears twice, so two combinations could read the same");
            assert!(word.starts_with(|c: char| c.is_ascii_uppercase()), "{word} is capitalised");
            assert!(word.chars().all(|c| c.is_ascii_alphabetic()), "{word} is plain letters (no `_`)");
        }
        let space: usize = lists.iter().map(|list| list.len()).product();
        assert!(space >= 1_000_000, "only {space} unnumbered names");
    }

    #[test]
    fn names_read_like_brave_teal_fox() {
        let name = generate(false);
        let parts: Vec<&str> = name.split('_').collect();
        assert_eq!(parts.len(), 3, "{name}");
        assert!(ADJECTIVES.contains(&parts[0]) && COLOURS.contains(&parts[1]) && ANIMALS.contains(&parts[2]));
        let numbered = generate(true);
        let number: u32 = numbered.rsplit('_').next().unwrap().parse().unwrap();
        assert!((10..10_000).contains(&number), "{numbered}");
    }
}

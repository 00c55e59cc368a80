import ExpertLock
import TensorCore

/// Recipes. Quantities are given for two people and scale linearly with the number of servings;
/// the total time is the sum of the step times; ovens are only mentioned for dishes that bake.
enum Recipes: DomainGenerator {
    struct Ingredient {
        var name: String
        /// "grams", "ml", "tablespoon", "teaspoon", or "" for things that are counted ("2 onions").
        var unit: String
        var perTwo: Int
        /// Plural for counted ingredients ("onions"); ignored when `unit` is set.
        var plural: String = ""

        func amount(servings: Int) -> String {
            let q = perTwo * servings / 2
            switch unit {
            case "": return "\(q) \(q == 1 ? name : plural)"
            case "tablespoon", "teaspoon", "clove": return "\(q) \(unit)\(q == 1 ? "" : "s") of \(name)"
            default: return "\(q) \(unit) of \(name)"
            }
        }
    }

    /// A step; when `minutes` is set the sentence is `before` + minutes + `after`.
    struct Step {
        var before: String
        var minutes: ClosedRange<Int>? = nil
        var after: String = ""
    }

    struct Dish {
        var name: String
        var ingredients: [Ingredient]
        var steps: [Step]
    }

    static func g(_ name: String, _ q: Int) -> Ingredient { Ingredient(name: name, unit: "grams", perTwo: q) }
    static func ml(_ name: String, _ q: Int) -> Ingredient { Ingredient(name: name, unit: "ml", perTwo: q) }
    static func tbsp(_ name: String, _ q: Int) -> Ingredient { Ingredient(name: name, unit: "tablespoon", perTwo: q) }
    static func tsp(_ name: String, _ q: Int) -> Ingredient { Ingredient(name: name, unit: "teaspoon", perTwo: q) }
    static func n(_ name: String, _ plural: String, _ q: Int) -> Ingredient {
        Ingredient(name: name, unit: "", perTwo: q, plural: plural)
    }
    static func s(_ before: String, _ minutes: ClosedRange<Int>? = nil, _ after: String = "") -> Step {
        Step(before: before, minutes: minutes, after: after)
    }

    static let dishes: [Dish] = [
        Dish(
            name: "lentil soup",
            ingredients: [
                g("red lentils", 100), n("onion", "onions", 1), n("carrot", "carrots", 2),
                ml("vegetable stock", 500), tbsp("olive oil", 1), tsp("ground cumin", 1),
            ],
            steps: [
                s("Chop the onion and the carrots finely."), s("Fry them in the olive oil for ", 4...8, " minutes."),
                s("Add the lentils, the cumin and the stock."),
                s("Simmer for ", 20...30, " minutes until the lentils are soft."),
                s("Blend half of the soup and serve hot."),
            ]),
        Dish(
            name: "tomato pasta",
            ingredients: [
                g("spaghetti", 200), n("tomato", "tomatoes", 4), Ingredient(name: "garlic", unit: "clove", perTwo: 2),
                tbsp("olive oil", 2), g("parmesan", 30), n("basil leaf", "basil leaves", 6),
            ],
            steps: [
                s("Cook the spaghetti in salted water for ", 9...12, " minutes."),
                s("Meanwhile fry the garlic in the oil for ", 2...3, " minutes."),
                s("Add the chopped tomatoes and simmer for ", 10...15, " minutes."),
                s("Toss the pasta in the sauce and finish with parmesan and basil."),
            ]),
        Dish(
            name: "pancakes",
            ingredients: [
                g("plain flour", 120), ml("milk", 250), n("egg", "eggs", 2), g("butter", 20), tbsp("sugar", 1),
            ],
            steps: [
                s("Whisk the flour, the eggs, the sugar and the milk into a smooth batter."),
                s("Let the batter rest for ", 10...30, " minutes."),
                s("Melt a little butter in a hot pan and cook the pancakes for ", 10...20, " minutes in batches."),
                s("Serve with lemon and sugar."),
            ]),
        Dish(
            name: "vegetable curry",
            ingredients: [
                n("potato", "potatoes", 2), g("chickpeas", 200), ml("coconut milk", 200), tbsp("curry paste", 2),
                n("onion", "onions", 1), g("spinach", 50),
            ],
            steps: [
                s("Dice the potatoes and slice the onion."),
                s("Fry the onion with the curry paste for ", 3...6, " minutes."),
                s("Add the potatoes, the chickpeas and the coconut milk."),
                s("Simmer gently for ", 20...30, " minutes."), s("Stir in the spinach just before serving."),
            ]),
        Dish(
            name: "fried rice",
            ingredients: [
                g("cooked rice", 150), n("egg", "eggs", 2), g("frozen peas", 80), tbsp("soy sauce", 2),
                n("spring onion", "spring onions", 2), tsp("sesame oil", 1),
            ],
            steps: [
                s("Heat the sesame oil in a wok."), s("Scramble the eggs for ", 2...3, " minutes and set them aside."),
                s("Stir fry the rice and the peas for ", 5...8, " minutes."),
                s("Add the soy sauce, the eggs and the spring onions."),
            ]),
        Dish(
            name: "chicken stew",
            ingredients: [
                n("chicken thigh", "chicken thighs", 4), n("potato", "potatoes", 3), n("carrot", "carrots", 2),
                ml("chicken stock", 400), tsp("dried thyme", 1), n("onion", "onions", 1),
            ],
            steps: [
                s("Brown the chicken in a heavy pot for ", 6...10, " minutes."),
                s("Add the onion, the carrots and the potatoes."),
                s("Pour in the stock, add the thyme and cover the pot."),
                s("Cook on a low heat for ", 40...60, " minutes."), s("Season to taste and serve."),
            ]),
        Dish(
            name: "mushroom risotto",
            ingredients: [
                g("risotto rice", 160), g("mushrooms", 200), ml("hot stock", 800), g("butter", 30),
                g("parmesan", 40), ml("white wine", 100),
            ],
            steps: [
                s("Fry the mushrooms in half of the butter for ", 4...7, " minutes."),
                s("Toast the rice for ", 2...3, " minutes, then add the wine."),
                s("Add the stock a ladle at a time, stirring for ", 18...22, " minutes."),
                s("Beat in the rest of the butter and the parmesan."),
            ]),
        Dish(
            name: "cheese omelette",
            ingredients: [
                n("egg", "eggs", 4), g("cheddar", 40), tbsp("milk", 2), g("butter", 10), tbsp("chopped chives", 1),
            ],
            steps: [
                s("Beat the eggs with the milk."), s("Melt the butter in a small pan."),
                s("Cook the eggs for ", 2...4, " minutes, then add the cheese."),
                s("Fold the omelette and scatter over the chives."),
            ]),
        Dish(
            name: "greek salad",
            ingredients: [
                n("tomato", "tomatoes", 3), n("cucumber", "cucumbers", 1), g("feta", 100), n("olive", "olives", 12),
                n("red onion", "red onions", 1), tbsp("olive oil", 2),
            ],
            steps: [
                s("Cut the tomatoes and the cucumber into chunks."), s("Slice the onion thinly."),
                s("Crumble the feta over the vegetables and add the olives."),
                s("Dress with the oil and leave to stand for ", 5...15, " minutes."),
            ]),
        Dish(
            name: "apple crumble",
            ingredients: [
                n("apple", "apples", 3), g("plain flour", 100), g("butter", 60), g("brown sugar", 50),
                tsp("cinnamon", 1),
            ],
            steps: [
                s("Heat the oven to 180 degrees."), s("Slice the apples into a baking dish with the cinnamon."),
                s("Rub the butter into the flour and the sugar until it looks like crumbs."),
                s("Bake at 180 degrees for ", 30...40, " minutes until golden."),
            ]),
        Dish(
            name: "fish tacos",
            ingredients: [
                g("white fish", 250), n("tortilla", "tortillas", 4), g("red cabbage", 100), n("lime", "limes", 1),
                tbsp("yogurt", 3), n("chilli", "chillies", 1),
            ],
            steps: [
                s("Season the fish and grill it for ", 6...9, " minutes."), s("Shred the cabbage and chop the chilli."),
                s("Warm the tortillas for ", 2...3, " minutes."),
                s("Fill the tortillas with fish, cabbage and yogurt and squeeze over the lime."),
            ]),
        Dish(
            name: "beef chilli",
            ingredients: [
                g("minced beef", 250), g("kidney beans", 200), g("chopped tomatoes", 400), n("onion", "onions", 1),
                tsp("chilli powder", 1), Ingredient(name: "garlic", unit: "clove", perTwo: 2),
            ],
            steps: [
                s("Brown the beef with the onion and the garlic for ", 8...12, " minutes."),
                s("Stir in the chilli powder."), s("Add the tomatoes and the beans."),
                s("Simmer for ", 30...45, " minutes, stirring now and then."),
            ]),
        Dish(
            name: "roasted vegetables",
            ingredients: [
                n("pepper", "peppers", 2), n("courgette", "courgettes", 1), n("red onion", "red onions", 1),
                tbsp("olive oil", 2), tsp("dried rosemary", 1),
            ],
            steps: [
                s("Heat the oven to 200 degrees."), s("Cut the vegetables into large pieces."),
                s("Toss them with the oil and the rosemary on a tray."),
                s("Roast at 200 degrees for ", 30...45, " minutes, turning once."),
            ]),
        Dish(
            name: "porridge",
            ingredients: [g("oats", 80), ml("milk", 400), tsp("honey", 2), g("berries", 100)],
            steps: [
                s("Put the oats and the milk in a pan."), s("Bring to the boil and stir for ", 4...6, " minutes."),
                s("Leave to thicken for ", 2...3, " minutes."), s("Top with the berries and the honey."),
            ]),
        Dish(
            name: "banana bread",
            ingredients: [
                n("ripe banana", "ripe bananas", 2), g("self raising flour", 110), g("butter", 50),
                g("caster sugar", 50), n("egg", "eggs", 1),
            ],
            steps: [
                s("Heat the oven to 170 degrees."),
                s("Mash the bananas and beat in the butter, the sugar and the egg."),
                s("Fold in the flour and pour the batter into a loaf tin."),
                s("Bake at 170 degrees for ", 45...60, " minutes."),
            ]),
    ]

    /// One recipe drawn with its servings and step times.
    struct Recipe {
        var dish: Dish
        var servings: Int
        var steps: [String] = []
        var totalMinutes = 0

        init(_ rng: inout SplitMix64, dish: Dish? = nil) {
            self.dish = dish ?? rng.pick(dishes)
            servings = rng.pick([2, 4, 6, 8])
            for step in self.dish.steps {
                if let range = step.minutes {
                    let m = rng.int(range)
                    totalMinutes += m
                    steps.append(step.before + "\(m)" + step.after)
                } else {
                    steps.append(step.before)
                }
            }
        }

        var title: String { CorpusText.capitalized(dish.name) }
        var main: Ingredient { dish.ingredients[0] }

        func ingredientSentence(_ rng: inout SplitMix64) -> String {
            let items = dish.ingredients.map { $0.amount(servings: servings) }
            return rng.pick(["You will need ", "You need ", "Ingredients: "]) + CorpusText.list(items) + "."
        }

        var summary: String {
            "\(title) for \(servings) people takes \(totalMinutes) minutes"
                + " and needs \(main.amount(servings: servings))."
        }
    }

    static func document(_ rng: inout SplitMix64) -> String {
        if rng.chance(0.1) { return reviews.review(positive: rng.chance(0.5), &rng) }
        let recipe = Recipe(&rng)
        var sentences = [
            rng.pick([
                "\(recipe.title) for \(recipe.servings) people.",
                "A simple \(recipe.dish.name) that serves \(recipe.servings).",
                "This \(recipe.dish.name) serves \(recipe.servings) and takes \(recipe.totalMinutes) minutes.",
                "Recipe: \(recipe.dish.name) for \(recipe.servings).",
            ])
        ]
        sentences.append(recipe.ingredientSentence(&rng))
        sentences += recipe.steps
        sentences.append(
            rng.pick([
                "Ready in \(recipe.totalMinutes) minutes.",
                "The whole dish takes \(recipe.totalMinutes) minutes.",
            ]))
        if rng.chance(0.4) {
            let other = rng.pick([2, 4, 6, 8].filter { $0 != recipe.servings })
            let ingredient = rng.pick(recipe.dish.ingredients)
            sentences.append("For \(other) people, use \(ingredient.amount(servings: other)) instead.")
        }
        if rng.chance(0.3) { sentences.append("Leftovers keep in the fridge for \(rng.int(2...4)) days.") }
        return sentences.joined(separator: " ")
    }

    static func summarized(_ rng: inout SplitMix64) -> (document: String, summary: String) {
        let recipe = Recipe(&rng)
        var sentences = [
            "\(recipe.title) for \(recipe.servings) people.", recipe.ingredientSentence(&rng),
        ]
        // Keep the timed steps (the total is their sum) and at most one untimed one.
        let timed = recipe.dish.steps.indices.filter { recipe.dish.steps[$0].minutes != nil }
        sentences += timed.prefix(3).map { recipe.steps[$0] }
        sentences.append("Ready in \(recipe.totalMinutes) minutes.")
        return (sentences.joined(separator: " "), recipe.summary)
    }

    static func pair(entailed: Bool, _ rng: inout SplitMix64) -> (premise: String, hypothesis: String) {
        let recipe = Recipe(&rng)
        let ingredient = rng.pick(recipe.dish.ingredients)
        let other = rng.pick([2, 4, 6, 8].filter { $0 != recipe.servings })
        var facts = PremiseFacts(
            premise:
                "The \(recipe.dish.name) recipe for \(recipe.servings) people"
                + " uses \(ingredient.amount(servings: recipe.servings))."
        )
        facts.holds.append("For \(other) people you need \(ingredient.amount(servings: other)).")
        facts.holds.append("The \(recipe.dish.name) needs \(ingredient.name).")
        var wrong = ingredient
        wrong.perTwo = ingredient.perTwo + (ingredient.perTwo >= 10 ? 10 * rng.int(1...3) : rng.int(1...2))
        facts.fails.append("For \(other) people you need \(wrong.amount(servings: other)).")
        let missing = rng.pick(
            dishes.flatMap(\.ingredients).filter { m in
                !recipe.dish.ingredients.contains { $0.name == m.name }
            })
        facts.fails.append("The \(recipe.dish.name) needs \(missing.name).")
        return facts.pick(entailed: entailed, &rng)
    }

    static let reviews = ReviewLexicon(
        openings: [
            "I cooked the {} for my family last night.", "I ordered the {} at a small cafe near the station.",
            "We tried the {} recipe from this blog.", "My partner made the {} for our anniversary.",
        ],
        items: dishes.map(\.name),
        aspects: [
            ReviewAspect("the soup", good: ["rich", "hearty", "velvety"], bad: ["bland", "watery", "lukewarm"]),
            ReviewAspect("the sauce", good: ["creamy", "rich", "tangy"], bad: ["lumpy", "watery", "too salty"]),
            ReviewAspect("the bread", good: ["fresh", "crusty", "warm"], bad: ["stale", "dry", "hard"]),
            ReviewAspect(
                "the pasta", good: ["perfectly cooked", "al dente", "silky"], bad: ["overcooked", "mushy", "sticky"]),
            ReviewAspect("the dessert", good: ["heavenly", "light", "sweet"], bad: ["sickly", "dry", "burnt"]),
            ReviewAspect(
                "the portions", plural: true, good: ["generous", "hearty", "filling"],
                bad: ["tiny", "stingy", "meagre"]),
            ReviewAspect(
                "the vegetables", plural: true, good: ["crisp", "fresh", "tender"],
                bad: ["soggy", "limp", "overcooked"]),
            ReviewAspect("the service", good: ["quick", "attentive", "friendly"], bad: ["slow", "careless", "rude"]),
            ReviewAspect(
                "the rice", good: ["fluffy", "fragrant", "tender"], bad: ["sticky", "undercooked", "clumpy"]),
            ReviewAspect(
                "the flavours", plural: true, good: ["vibrant", "balanced", "fragrant"],
                bad: ["flat", "dull", "muddled"]),
            ReviewAspect("the meat", good: ["tender", "juicy", "succulent"], bad: ["chewy", "tough", "greasy"]),
        ],
        good: ["excellent", "superb", "wonderful"],
        bad: ["awful", "terrible", "disappointing"],
        goodVerdicts: ["I would make it again.", "Highly recommended.", "Everyone asked for seconds."],
        badVerdicts: ["I will not make it again.", "Not worth the effort.", "We ended up ordering a pizza."])
}

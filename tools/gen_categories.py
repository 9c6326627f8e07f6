#!/usr/bin/env python3
"""Generates labeler/data/categories.tsv from labeler/data/imagenet_classes.txt.

Each output line is ``index<TAB>short name<TAB>category,category,...``:
the short name is the first WordNet synonym in lower case (a few ambiguous
ones are renamed below), and the categories are broader labels ("dog",
"animal", "vehicle", ...) that the labeler adds with the summed probability of
their member classes. The TSV is committed; re-run this script after editing
the rules here (python3 tools/gen_categories.py).
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = os.path.join(ROOT, "labeler", "data", "imagenet_classes.txt")
OUT = os.path.join(ROOT, "labeler", "data", "categories.tsv")

# Short names for classes whose first synonym is ambiguous or odd.
RENAMES = {
    97: "drake (duck)", 101: "tusker (elephant)", 263: "pembroke corgi", 264: "cardigan corgi",
    339: "sorrel horse", 348: "ram (sheep)", 456: "bow (archery)", 468: "taxi",
    517: "construction crane", 553: "file cabinet", 606: "clothes iron", 608: "jeans",
    639: "tank suit", 673: "computer mouse", 726: "carpenter's plane", 738: "flowerpot",
    751: "race car", 769: "ruler", 800: "slot machine", 850: "teddy bear",
    881: "upright piano", 908: "aircraft wing", 989: "rose hip", 998: "ear of corn",
}


def r(a: int, b: int) -> list[int]:
    """Inclusive index range."""
    return list(range(a, b + 1))


# category -> member class indices. A class may be in several categories.
GROUPS: dict[str, list[int]] = {
    # --- animals -------------------------------------------------------
    "animal": r(0, 398),
    "fish": r(0, 6) + r(389, 397),
    "shark": [2, 3, 4],
    "bird": r(7, 24) + r(80, 100) + r(127, 146),
    "chicken": [7, 8],
    "parrot": r(87, 90),
    "owl": [24],
    "duck": [97, 98],
    "eagle": [22],
    "amphibian": r(25, 32),
    "frog": [30, 31, 32],
    "reptile": r(33, 68),
    "turtle": r(33, 37),
    "lizard": r(38, 48),
    "crocodile": [49, 50],
    "dinosaur": [51],
    "snake": r(52, 68),
    "spider": r(72, 77),
    "arachnid": r(70, 78),
    "insect": r(300, 326),
    "beetle": r(300, 307),
    "butterfly": r(321, 326),
    "sea creature": r(107, 126) + [147, 148, 149, 150, 327, 328, 329],
    "crab": [118, 119, 120, 121, 125],
    "lobster": [122, 123, 124],
    "shellfish": r(118, 126) + [112, 116, 117],
    "snail": [112, 113, 114],
    "mammal": r(101, 106) + r(147, 150) + r(151, 299) + r(330, 388),
    "marsupial": [104, 105, 106],
    "elephant": [101, 385, 386],
    "whale": [147, 148],
    "seal": [150],
    "dog": r(151, 268),
    "terrier": r(179, 203),
    "retriever": r(205, 209),
    "spaniel": [152, 156, 215, 216, 217, 218, 219, 220, 221],
    "hound": r(159, 177),
    "poodle": [265, 266, 267],
    "wolf": [269, 270, 271],
    "fox": r(277, 280),
    "cat": r(281, 285),
    "big cat": [286, 288, 289, 290, 291, 292, 293],
    "wild cat": r(286, 293),
    "bear": r(294, 297) + [388],
    "rabbit": [330, 331, 332],
    "rodent": r(333, 338),
    "horse": [339, 603],
    "zebra": [340],
    "pig": [341, 342, 343],
    "cattle": [345, 346, 347],
    "sheep": [348],
    "goat": [350],
    "antelope": [351, 352, 353],
    "camel": [354, 355],
    "monkey": r(369, 382),
    "ape": r(365, 368),
    "primate": r(365, 384),
    "panda": [387, 388],
    # --- people -------------------------------------------------------
    "person": [981, 982, 983, 724],
    # --- food and drink ---------------------------------------------
    "food": r(923, 965) + [415, 467, 509, 987, 988, 989, 990, 992, 996, 998, 607],
    "fruit": r(948, 957) + [989, 990],
    "vegetable": r(936, 947) + [987, 998],
    "mushroom": [947] + r(991, 997),
    "fungus": r(991, 997),
    "bread": [930, 931, 932],
    "dessert": [927, 928, 929, 960],
    "fast food": [933, 934, 963, 965],
    "meal": [924, 925, 926, 933, 934, 935, 959, 962, 963, 964, 965],
    "pizza": [963],
    "sandwich": [933, 934],
    "soup": [925, 926, 809],
    "drink": [966, 967, 968, 969, 504, 441, 440, 907, 901, 737, 572],
    "coffee": [967, 504, 550, 505],
    "cup": [968, 504, 967, 647],
    "wine": [966, 907, 572],
    "beer": [440, 441],
    "bottle": [440, 720, 737, 898, 907, 901],
    # --- plants and nature ----------------------------------------------
    "plant": [984, 985, 986, 738, 958, 946],
    "flower": [984, 985, 986],
    "landscape": [970] + r(972, 980) + [500, 525],
    "mountain": [970, 979, 980, 972],
    "water": [973, 975, 977, 978, 974],
    "beach": [977, 978],
    "sea": [973, 978, 976],
    "lake": [975],
    "volcano": [980],
    # --- vehicles -------------------------------------------------------
    "vehicle": [403, 404, 405, 407, 408, 436, 444, 450, 466, 468, 472, 484, 510, 511, 537, 547,
                554, 555, 561, 565, 569, 573, 575, 576, 586, 595, 603, 609, 612, 625, 627, 628,
                654, 656, 660, 661, 665, 670, 671, 675, 690, 705, 717, 734, 751, 757, 779, 780,
                802, 803, 812, 814, 817, 820, 829, 833, 847, 856, 864, 866, 867, 870, 871, 874,
                880, 895, 914, 895, 913, 694, 730],
    "car": [407, 436, 468, 511, 609, 627, 656, 661, 717, 751, 817, 479, 581, 475, 535],
    "truck": [555, 569, 675, 717, 864, 867, 586, 734],
    "bus": [654, 779, 874],
    "van": [654, 656, 675, 734],
    "boat": [403, 472, 484, 510, 554, 576, 625, 628, 693, 694, 724, 780, 814, 833, 871, 914, 913],
    "ship": [403, 510, 628, 780],
    "aircraft": [404, 405, 895, 908, 812],
    "airplane": [404, 895, 908],
    "train": [466, 547, 565, 705, 820, 829],
    "bicycle": [444, 671, 870, 880],
    "motorcycle": [665, 670],
    "military": [403, 413, 465, 471, 586, 652, 657, 744, 764, 847, 895, 715, 461, 524],
    "emergency vehicle": [407, 555, 734, 554],
    "construction": [517, 561, 595, 866, 803],
    "spacecraft": [812, 657],
    "winter sport": [450, 537, 795, 802],
    # --- buildings and places ----------------------------------------
    "building": [406, 410, 415, 424, 425, 442, 449, 454, 467, 483, 497, 498, 500, 509, 580, 582,
                 624, 634, 663, 668, 698, 727, 743, 762, 788, 832, 860, 865, 900, 915, 853, 858,
                 538, 884],
    "shop": [415, 424, 454, 467, 509, 582, 788, 860, 865],
    "church": [406, 442, 497, 663, 668, 832],
    "house": [500, 660, 853, 858, 915, 425],
    "castle": [483, 698],
    "bridge": [821, 839, 888],
    "monument": [649, 682, 863, 873, 832],
    "architecture": [421, 538, 581, 706, 708, 789, 799, 825, 853, 858, 873, 884, 888, 860],
    "harbour": [449, 460, 536, 718],
    "fence": [489, 716, 912, 825],
    "street": [919, 920, 637, 704, 703, 571, 640],
    "sign": [919, 781, 922],
    "tent": [672, 915],
    "garden": [580, 706, 562],
    # --- household --------------------------------------------------
    "furniture": [423, 431, 453, 492, 493, 495, 516, 520, 526, 532, 548, 559, 564, 648, 703, 736,
                  765, 831, 857, 894, 721, 750, 741],
    "chair": [423, 559, 765, 857],
    "table": [526, 532, 736],
    "bed": [564, 520, 516, 431, 797],
    "kitchenware": [469, 499, 503, 505, 521, 544, 550, 567, 618, 659, 729, 813, 828, 849, 891,
                    909, 910, 923, 647, 473, 512, 773, 899, 725],
    "tableware": [923, 809, 968, 504, 572, 441, 910],
    "appliance": [534, 545, 550, 651, 760, 786, 811, 859, 882, 897, 891, 606, 589, 766, 827],
    "bathroom": [434, 435, 794, 804, 861, 876, 896, 999, 700, 793, 631],
    "container": [412, 427, 463, 478, 492, 519, 588, 653, 692, 709, 720, 728, 756, 790, 791, 876,
                  899, 901, 883, 738, 719],
    "bag": [414, 636, 728, 748, 797],
    "lamp": [470, 619, 846, 818, 862],
    "clock": [409, 530, 604, 826, 892, 835],
    "watch": [531, 826],
    "toy": [611, 613, 850, 723, 417, 719, 522],
    "decoration": [496, 607, 883, 645, 679],
    "textile": [750, 885, 911, 591, 533, 741, 539, 854],
    # --- electronics ----------------------------------------------------
    "electronics": [480, 481, 482, 485, 487, 508, 527, 528, 530, 531, 590, 592, 598, 605, 620,
                    632, 662, 664, 673, 681, 688, 713, 742, 745, 754, 761, 782, 810, 848, 851,
                    878, 886, 916, 650, 732, 759],
    "computer": [508, 527, 590, 620, 664, 673, 681, 782, 810, 916, 878],
    "phone": [487, 528, 707],
    "camera": [732, 759, 622],
    "music player": [482, 485, 605, 848, 754, 632],
    "screen": [664, 782, 851, 916],
    # --- clothing --------------------------------------------------
    "clothing": [399, 400, 411, 433, 439, 443, 445, 451, 452, 457, 459, 474, 501, 568, 578, 601,
                 608, 610, 614, 617, 638, 639, 652, 655, 658, 689, 697, 735, 775, 834, 841, 842,
                 869, 887, 906, 806, 824, 552, 496, 529],
    "hat": [433, 439, 452, 515, 667, 808, 793, 715, 518, 560],
    "shoe": [502, 514, 630, 770, 774],
    "footwear": [502, 514, 630, 770, 774, 806],
    "swimwear": [445, 639, 842, 433],
    "accessory": [451, 457, 464, 584, 679, 836, 837, 903, 906, 893, 748],
    "glasses": [836, 837],
    "jewellery": [679],
    "cosmetics": [551, 629, 631, 711, 585, 838],
    "armour": [461, 465, 490, 524, 787, 715],
    "helmet": [518, 560, 715],
    # --- instruments, sports, tools -----------------------------------
    "musical instrument": [401, 402, 420, 432, 486, 494, 513, 541, 546, 558, 566, 577, 579, 593,
                           594, 641, 642, 683, 684, 687, 699, 776, 822, 875, 881, 889],
    "guitar": [402, 546],
    "piano": [579, 881],
    "drum": [541, 822],
    "sports": [416, 422, 429, 430, 522, 543, 574, 602, 702, 722, 747, 752, 768, 795, 805, 852,
               890, 746, 981, 560, 801, 983],
    "ball": [429, 430, 522, 574, 722, 768, 805, 852, 890],
    "gym": [416, 422, 543, 602, 702, 747],
    "tool": [462, 477, 491, 587, 596, 600, 606, 666, 677, 696, 714, 726, 740, 772, 783, 784, 792,
             844, 398, 426, 635, 769, 778, 798, 816, 633, 872, 512, 473, 623, 626, 644],
    "weapon": [413, 456, 471, 499, 596, 657, 744, 763, 764, 777, 787, 597],
    "gun": [413, 763, 764, 471],
    "office": [418, 446, 549, 553, 563, 681, 709, 710, 713, 742, 749, 767, 769, 798, 878, 710],
    "writing": [418, 563, 749, 696],
    "book": [921, 917, 453, 454, 624],
    "paper": [549, 700, 921, 917, 918, 999, 922],
    "medical": [523, 645, 678, 691, 712, 720, 823, 830, 845, 840, 648],
    "science": [438, 688, 712, 755, 426, 807],
    "light": [437, 470, 619, 818, 846, 862, 920],
    "fire": [470, 554, 555, 556, 862],
    "lock": [507, 695, 771],
    "outdoor": [672, 797, 558, 703, 843, 557, 437],
    "playground": [843, 476, 645],
    "puzzle": [611, 918, 646],
    "wheel": [479, 694, 739, 723],
    "window": [904, 905, 789],
    "textile craft": [616, 816, 911],
    "bubble": [971],
    "medical supply": [419, 720, 845],
    "garden tool": [428, 621, 792],
    "optics": [447, 633, 759, 836, 837],
    "birdhouse": [448],
    "bird feeder": [448],
    "cap": [455],
    "plaque": [458],
    "metal": [488, 506, 458, 677, 783],
    "oil rig": [540],
    "industry": [540, 634, 686, 900],
    "mask": [570, 643, 796, 676, 691],
    "historic": [583, 461, 490, 524, 715],
    "honeycomb": [599],
    "bee": [309, 410, 599],
    "protective gear": [615, 518, 560, 570, 785, 465],
    "net": [669, 815],
    "trap": [674],
    "baby": [680, 431, 516, 520, 529],
    "car part": [685, 686, 785, 475, 479, 535, 581],
    "parachute": [701],
    "sky": [701, 417, 405],
    "pole": [733, 557, 645, 863],
    "heating": [753, 811],
    "fishing": [758],
    "gambling": [800],
    "casino": [800],
    "spider web": [815],
    "performance": [819, 854, 498],
    "sewing": [855, 786, 816],
    "tray": [868],
    "gate": [877],
    "umbrella": [879],
    "rain": [879],
    "whistle": [902],
    "cleaning": [462, 533, 731, 840, 882, 897],
    "drumstick": [542],
}


def main() -> int:
    with open(CLASSES, encoding="utf-8") as fh:
        lemmas = [line.rstrip("\n") for line in fh if line.strip()]
    if len(lemmas) != 1000:
        print(f"expected 1000 classes, got {len(lemmas)}", file=sys.stderr)
        return 1
    cats: list[list[str]] = [[] for _ in lemmas]
    for cat, members in GROUPS.items():
        for idx in members:
            if not 0 <= idx < 1000:
                print(f"{cat}: bad index {idx}", file=sys.stderr)
                return 1
            if cat not in cats[idx]:
                cats[idx].append(cat)
    missing = [i for i, c in enumerate(cats) if not c]
    lines = ["# index\tshort name\tcategories (comma separated; generated by tools/gen_categories.py)"]
    for i, lemma in enumerate(lemmas):
        name = RENAMES.get(i, lemma.split(",")[0].strip().lower())
        lines.append(f"{i}\t{name}\t{','.join(cats[i])}")
    with open(OUT, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {OUT}; classes without a category: {len(missing)}")
    for i in missing:
        print(f"  {i}: {lemmas[i]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Vocabulary of the demo generator (US retail): names by frequency rank, places, products.

Frequencies are Zipf weights by rank, a fair approximation of US name distributions; a synthetic
tail of surnames keeps name collisions realistic at millions of people.
"""

from __future__ import annotations

MALE = ["James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew", "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward", "Jason", "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon", "Benjamin", "Samuel", "Gregory", "Alexander", "Frank", "Patrick", "Raymond", "Jack", "Dennis", "Jerry", "Tyler", "Aaron", "Jose", "Adam", "Nathan", "Henry", "Douglas", "Zachary", "Peter", "Kyle", "Ethan", "Walter", "Noah", "Jeremy", "Christian", "Keith", "Roger", "Terry", "Gerald", "Harold", "Sean", "Austin", "Carl", "Arthur", "Lawrence", "Dylan", "Jesse", "Jordan", "Bryan", "Billy", "Joe", "Bruce", "Gabriel", "Logan", "Albert", "Willie", "Alan", "Juan", "Wayne", "Elijah", "Randy", "Roy", "Vincent", "Ralph", "Eugene", "Russell", "Bobby", "Mason", "Philip", "Louis", "Liam", "Lucas", "Oliver", "Owen", "Luke", "Isaac", "Caleb", "Hunter", "Connor", "Evan", "Adrian", "Luis", "Carlos", "Miguel", "Victor", "Martin", "Leonard", "Marcus", "Frederick", "Theodore", "Nathaniel", "Stanley", "Francis", "Herbert", "Clifford", "Leo", "Dominic", "Xavier", "Jorge", "Ricardo", "Mateo", "Diego", "Rafael", "Andre", "Omar", "Hugo", "Felix", "Simon", "Tobias", "Elliot", "Colin", "Grant"]

FEMALE = ["Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen", "Lisa", "Nancy", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna", "Michelle", "Carol", "Amanda", "Dorothy", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura", "Cynthia", "Kathleen", "Amy", "Angela", "Shirley", "Anna", "Brenda", "Pamela", "Emma", "Nicole", "Helen", "Samantha", "Katherine", "Christine", "Debra", "Rachel", "Carolyn", "Janet", "Catherine", "Maria", "Heather", "Diane", "Ruth", "Julie", "Olivia", "Joyce", "Virginia", "Victoria", "Kelly", "Lauren", "Christina", "Joan", "Evelyn", "Judith", "Megan", "Andrea", "Cheryl", "Hannah", "Jacqueline", "Martha", "Gloria", "Teresa", "Ann", "Sara", "Madison", "Frances", "Kathryn", "Janice", "Jean", "Abigail", "Alice", "Judy", "Sophia", "Grace", "Denise", "Amber", "Doris", "Marilyn", "Danielle", "Beverly", "Isabella", "Theresa", "Diana", "Natalie", "Brittany", "Charlotte", "Marie", "Kayla", "Alexis", "Lori", "Susanne", "Suzanne", "Josephine", "Veronica", "Valerie", "Allison", "Caroline", "Eleanor", "Lucy", "Chloe", "Ava", "Mia", "Harper", "Ella", "Zoe", "Leah", "Audrey", "Claire", "Stella", "Violet", "Hazel", "Aurora", "Penelope", "Nora", "Camila", "Sofia", "Lucia", "Valentina", "Elena", "Daniela", "Gabriela", "Adriana", "Paula", "Monica", "Natasha", "Ingrid", "Astrid", "Freya", "Matilda", "Rosalind", "Cecilia", "Beatrice", "Vivian", "Miriam", "Naomi", "Ruby", "Esther"]

SURNAMES = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell", "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Gonzales", "Fisher", "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham", "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes", "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens", "Harrison", "Fernandez", "McDonald", "Woods", "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb", "Tucker", "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter", "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Munoz", "Hunt", "Hicks", "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd", "Rose", "Stone", "Salazar", "Fox", "Warren", "Mills", "Meyer", "Rice", "Schmidt", "Garza", "Daniels", "Ferguson", "Nichols", "Stephens", "Soto", "Weaver", "Ryan", "Gardner", "Payne", "Grant", "Dunn", "Kelley", "Spencer", "Hawkins", "Arnold", "Pierce", "Vazquez", "Hansen", "Peters", "Santos", "Hart", "Bradley", "Knight", "Elliott", "Cunningham", "Duncan", "Armstrong", "Hudson", "Carroll", "Lane", "Riley", "Andrews", "Alvarado", "Ray", "Delgado", "Berry", "Perkins", "Hoffman", "Johnston", "Matthews", "Pena", "Richards", "Contreras", "Willis", "Carpenter", "Lawrence", "Sandoval", "Guerrero", "George", "Chapman", "Rios", "Estrada", "Ortega", "Watkins", "Greene", "Nunez", "Wheeler", "Valdez", "Harper", "Burke", "Larson", "Santiago", "Maldonado", "Morrison", "Franklin", "Carlson", "Austin", "Dominguez", "Carr", "Lawson", "Jacobs", "OBrien", "Lynch", "Singh", "Vega", "Bishop", "Montgomery", "Oliver", "Jensen", "Harvey", "Williamson", "Gilbert", "Dean", "Sims", "Espinoza", "Howell", "Li", "Wong", "Reid", "Hanson", "Le", "McCoy", "Garrett", "Burton", "Fuller", "Wang", "Weber", "Welch", "Rojas", "Lucas", "Marquez", "Fields", "Park", "Yang", "Little", "Banks", "Padilla", "Day", "Walsh", "Bowman", "Schultz", "Luna", "Fowler", "Mejia", "Davidson", "Acosta", "Brewer", "May", "Holland", "Juarez", "Newman", "Pearson", "Curtis", "Cortez", "Douglas", "Schneider", "Joseph", "Barrett", "Navarro", "Figueroa", "Keller", "Avila", "Wade", "Molina", "Stanley", "Hopkins", "Campos", "Barnett", "Bates", "Chambers", "Caldwell", "Beck", "Lambert", "Miranda", "Byrd", "Craig", "Ayala", "Lowe", "Frazier", "Powers", "Neal", "Leonard", "Gregory", "Carrillo", "Sutton", "Fleming", "Rhodes", "Shelton", "Schwartz", "Norris", "Jennings", "Watts", "Duran", "Walters", "Cohen", "McDaniel", "Moran", "Parks", "Steele", "Vaughn", "Becker", "Holt", "DeLeon", "Barker", "Terry", "Hale", "Leon", "Hail", "Benson", "Haynes", "Horton", "Miles", "Lyons", "Pham", "Graves", "Bush", "Thornton", "Wolfe", "Warner", "Cabrera", "McKinney", "Mann", "Zimmerman", "Dawson", "Lara", "Fletcher", "Page", "McCarthy", "Love", "Robles", "Cervantes", "Solis", "Erickson", "Reeves", "Chang", "Klein", "Salinas", "Fuentes", "Baldwin", "Daniel", "Simon", "Velasquez", "Hardy", "Higgins", "Aguirre", "Lin", "Cummings", "Chandler", "Sharp", "Barber", "Bowen", "Ochoa", "Dennis", "Robbins", "Liu", "Ramsey", "Francis", "Griffith", "Paul", "Blair", "OConnor", "Cardenas", "Pacheco", "Cross", "Calderon", "Quinn", "Moss", "Swanson", "Chan", "Rivas", "Khan", "Rodgers", "Serrano", "Fitzgerald", "Rosales", "Stevenson", "Christensen", "Manning", "Gill", "Curry", "McLaughlin", "Harmon", "McGee", "Gross", "Doyle", "Garner", "Newton", "Burgess", "Reese", "Walton", "Blake", "Trujillo", "Adkins", "Brady", "Goodman", "Roman", "Webster", "Goodwin", "Fischer", "Huang", "Potter", "Delacruz", "Montoya", "Todd", "Wu", "Hines", "Mullins", "Castaneda", "Malone", "Cannon", "Tate", "Mack", "Sherman", "Hubbard", "Hodges", "Zhang", "Guerra", "Wolf", "Valencia", "Saunders", "Franco", "Rowe", "Gallagher", "Farmer", "Hammond", "Hampton", "Townsend", "Ingram", "Wise", "Gallegos", "Clarke", "Barton", "Schroeder", "Maxwell", "Waters", "Logan", "Camacho", "Strickland", "Norman", "Person", "Colon", "Parsons", "Frank", "Harrington", "Glover", "Osborne", "Buchanan", "Casey", "Floyd", "Patton", "Ibarra", "Ball", "Tyler", "Suarez", "Bowers", "Orozco", "Salas", "Cobb", "Gibbs", "Andrade", "Bauer", "Conner", "Moody", "Escobar", "McGuire", "Lloyd", "Mueller", "Hartman", "French", "Kramer", "McBride", "Pope", "Lindsey", "Velazquez", "Norton", "McCormick", "Sparks", "Flynn", "Yates", "Hogan", "Marsh", "Macias", "Villanueva", "Zamora", "Pratt", "Stokes", "Owen", "Ballard", "Lang", "Brock", "Villarreal", "Charles", "Drake", "Barrera", "Cain", "Patrick", "Pineda", "Burnett", "Mercado", "Santana", "Shepherd", "Bautista", "Ali", "Shaffer", "Lamb", "Trevino", "McKenzie", "Hess", "Beil", "Olsen", "Cochran", "Morton", "Nash", "Wilkins", "Petersen", "Briggs", "Shah", "Roth", "Nicholson", "Holloway", "Lozano", "Rangel", "Flowers", "Hoover", "Short", "Arias", "Mora", "Valenzuela", "Bryan", "Meyers", "Weiss", "Underwood", "Bass", "Greer", "Summers", "Houston", "Carson", "Morrow", "Clayton", "Whitaker", "Decker", "Yoder", "Collier", "Zuniga", "Carey", "Wilcox", "Melendez", "Poole", "Roberson", "Larsen", "Conley", "Davenport", "Copeland", "Massey", "Lam", "Huff", "Rocha", "Cameron", "Jefferson", "Hood", "Monroe", "Anthony", "Pittman", "Huynh", "Randall", "Singleton", "Kirk", "Combs", "Mathis", "Christian", "Skinner", "Bradford", "Richard", "Galvan", "Wall", "Boone", "Kirby", "Wilkinson", "Bridges", "Bruce", "Atkinson", "Velez", "Meza", "Roy", "Vincent", "York", "Hodge", "Villa", "Abbott", "Allison", "Tapia", "Gates", "Chase", "Sosa", "Sweeney", "Farrell", "Wyatt", "Dalton", "Horn", "Barron", "Phelps", "Yu", "Dickerson", "Heath", "Foley", "Atkins", "Mathews", "Bonilla", "Acevedo", "Benitez", "Zavala", "Hensley", "Glenn", "Cisneros", "Harrell", "Shields", "Rubio", "Choi", "Huffman", "Boyer", "Garrison", "Arroyo", "Bond", "Kane", "Hancock", "Callahan", "Dillon", "Cline", "Wiggins", "Grimes", "Arellano", "Melton", "ONeill", "Savage", "Ho", "Beltran", "Pitts", "Parrish", "Ponce", "Rich", "Booth", "Koch", "Golden", "Ware", "Brennan", "McDowell", "Marks", "Cantu", "Humphrey", "Baxter", "Sawyer", "Clay", "Tanner", "Hutchinson", "Kaur", "Berg", "Wiley", "Gilmore", "Russo", "Villegas", "Hobbs", "Keith", "Wilkerson", "Ahmed", "Beard", "McClain", "Montes", "Mata", "Rosario", "Vang", "Walter", "Henson", "ONeal", "Mosley", "McClure", "Beasley", "Stephenson", "Snow", "Huerta", "Preston", "Vance", "Barry", "Johns", "Eaton", "Blackwell", "Dyer", "Prince", "Macdonald", "Solomon", "Guevara", "Stafford", "English", "Hurst", "Woodard", "Cortes", "Shannon", "Kemp", "Nolan", "McCullough", "Merritt", "Murillo", "Moon", "Salgado", "Strong", "Kline", "Cordova", "Barajas", "Roach", "Rosas", "Winters", "Jacobson", "Lester", "Knox", "Bullock", "Kerr", "Leach", "Meadows", "Orr", "Davila", "Whitehead", "Pruitt", "Kent", "Conway", "McKee", "Barr", "David", "Dejesus", "Marin", "Berger", "McIntyre", "Blankenship", "Gaines", "Palacios", "Cuevas", "Bartlett", "Durham", "Dorsey", "McCall", "ODonnell", "Stein", "Browning", "Stout", "Lowery", "Sloan", "McLean", "Hendricks", "Calhoun", "Sexton", "Chung", "Gentry", "Hull", "Duarte", "Ellison", "Nielsen", "Gillespie", "Buck", "Middleton", "Sellers", "Leblanc", "Esparza", "Hardin", "Bradshaw", "McIntosh", "Howe", "Livingston", "Frost", "Glass", "Morse", "Knapp", "Herman", "Stark", "Bravo", "Noble", "Spears", "Weeks", "Corona", "Frederick", "Buckley", "McFarland", "Hebert", "Enriquez", "Hickman", "Quintero", "Randolph", "Schaefer", "Walls", "Trejo", "House", "Reilly", "Pennington", "Michael", "Conrad", "Giles", "Benjamin", "Crosby", "Fitzpatrick", "Donovan", "Mays", "Mahoney", "Valentine", "Raymond", "Medrano", "Hahn", "McMillan", "Small", "Bentley", "Felix", "Peck", "Lucero", "Boyle", "Hanna", "Pace", "Rush", "Hurley", "Harding", "McConnell", "Bernal", "Nava", "Ayers", "Everett", "Ventura", "Avery", "Pugh", "Mayer", "Bender", "Shepard", "McMahon", "Landry", "Case", "Sampson", "Moses", "Magana", "Blackburn", "Dunlap", "Gould", "Duffy", "Vaughan", "Herring", "McKay", "Espinosa", "Rivers", "Farley", "Bernard", "Ashley", "Friedman", "Potts", "Truong", "Costa", "Correa", "Blevins", "Nixon", "Clements", "Fry", "Delarosa", "Best", "Benton", "Lugo", "Portillo", "Dougherty", "Crane", "Haley", "Phan", "Villalobos", "Blanchard", "Horne", "Finley", "Quintana", "Lynn", "Esquivel", "Bean", "Dodson", "Mullen", "Xiong", "Hayden", "Cano", "Levy", "Huber", "Richmond", "Moyer", "Lim", "Frye", "Sheppard", "McCarty", "Avalos", "Booker", "Waller", "Parra", "Woodward", "Jaramillo", "Krueger", "Rasmussen", "Brandt", "Peralta", "Donaldson", "Stuart", "Faulkner", "Maynard", "Galindo", "Coffey", "Estes", "Sanford", "Burch", "Maddox", "Vo", "OConnell", "Vu", "Andersen", "Spence", "McPherson", "Church", "Schmitt", "Stanton", "Leal", "Cherry", "Compton", "Dudley", "Sierra", "Pollard", "Alfaro", "Hester", "Proctor", "Lu", "Hinton", "Novak", "Good", "Madden", "McCann", "Terrell", "Jarvis", "Dickson", "Reyna", "Cantrell", "Mayo", "Branch", "Hendrix", "Rollins", "Rowland", "Whitney", "Duke", "Odom", "Daugherty", "Travis", "Tang", "Archer"]

SYLLABLES_A = ["Al", "Ber", "Cal", "Dor", "El", "Fen", "Gar", "Hal", "Ist", "Jor", "Kel", "Lan", "Mor", "Nor", "Ost", "Pel", "Quin", "Ros", "Sel", "Tor", "Ul", "Var", "Wes", "Yor", "Zel"]
SYLLABLES_B = ["ban", "bert", "ford", "gate", "ham", "holt", "lander", "ley", "man", "mont", "more", "nell", "rick", "sby", "son", "stead", "ton", "vick", "well", "worth"]

NICKNAMES: dict[str, list[str]] = {
    "William": ["Bill", "Will", "Billy", "Liam"], "Robert": ["Bob", "Rob", "Bobby", "Robbie"],
    "Richard": ["Rick", "Dick", "Rich", "Ricky"], "James": ["Jim", "Jimmy", "Jamie"],
    "John": ["Johnny", "Jack"], "Michael": ["Mike", "Mikey", "Mick"], "Joseph": ["Joe", "Joey"],
    "Thomas": ["Tom", "Tommy"], "Charles": ["Charlie", "Chuck"], "Christopher": ["Chris", "Topher"],
    "Daniel": ["Dan", "Danny"], "Matthew": ["Matt"], "Anthony": ["Tony"], "Donald": ["Don", "Donny"],
    "Steven": ["Steve"], "Andrew": ["Andy", "Drew"], "Joshua": ["Josh"], "Kenneth": ["Ken", "Kenny"],
    "Timothy": ["Tim", "Timmy"], "Ronald": ["Ron", "Ronnie"], "Edward": ["Ed", "Eddie", "Ted"],
    "Jeffrey": ["Jeff"], "Jacob": ["Jake"], "Nicholas": ["Nick", "Nicky"], "Jonathan": ["Jon"],
    "Stephen": ["Steve"], "Lawrence": ["Larry"], "Benjamin": ["Ben", "Benny"], "Samuel": ["Sam", "Sammy"],
    "Gregory": ["Greg"], "Alexander": ["Alex", "Xander"], "Patrick": ["Pat", "Paddy"], "Raymond": ["Ray"],
    "Dennis": ["Denny"], "Gerald": ["Jerry", "Gerry"], "Douglas": ["Doug"], "Zachary": ["Zach", "Zack"],
    "Peter": ["Pete"], "Frederick": ["Fred", "Freddy"], "Theodore": ["Ted", "Theo"], "Nathaniel": ["Nate"],
    "Nathan": ["Nate"], "Philip": ["Phil"], "Vincent": ["Vince"], "Eugene": ["Gene"], "Russell": ["Russ"],
    "Leonard": ["Leo", "Len"], "Francis": ["Frank"], "Herbert": ["Herb"], "Stanley": ["Stan"],
    "Elizabeth": ["Liz", "Beth", "Betsy", "Eliza", "Lizzie"], "Margaret": ["Maggie", "Peggy", "Meg"],
    "Patricia": ["Pat", "Patty", "Trish"], "Jennifer": ["Jen", "Jenny"], "Barbara": ["Barb", "Babs"],
    "Susan": ["Sue", "Susie"], "Jessica": ["Jess", "Jessie"], "Katherine": ["Kate", "Kathy", "Katie"],
    "Kathleen": ["Kathy", "Kate"], "Deborah": ["Debby", "Deb", "Debbie"], "Debra": ["Deb", "Debbie"],
    "Rebecca": ["Becky", "Becca"], "Cynthia": ["Cindy"], "Christine": ["Chris", "Tina"],
    "Christina": ["Tina", "Chris"], "Samantha": ["Sam", "Sammy"], "Victoria": ["Vicky", "Tori"],
    "Abigail": ["Abby"], "Pamela": ["Pam"], "Stephanie": ["Steph"], "Jacqueline": ["Jackie"],
    "Kimberly": ["Kim"], "Amanda": ["Mandy"], "Dorothy": ["Dot", "Dottie"], "Judith": ["Judy"],
    "Alexandra": ["Alex", "Sasha"], "Catherine": ["Cathy", "Kate"], "Theresa": ["Terry", "Tess"],
    "Teresa": ["Terry", "Tess"], "Josephine": ["Jo", "Josie"], "Valerie": ["Val"], "Frances": ["Fran"],
    "Natalie": ["Nat"], "Eleanor": ["Ellie", "Nora"], "Penelope": ["Penny"], "Isabella": ["Bella", "Izzy"],
    "Gabriela": ["Gaby"], "Beatrice": ["Bea"], "Madison": ["Maddie"], "Allison": ["Ally"],
}

STREETS = ["Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Sunset", "Lincoln", "Jackson", "Church", "River", "Highland", "Ridge", "Meadow", "Forest", "Spring", "Willow", "Walnut", "Chestnut", "Franklin", "Jefferson", "Madison", "Adams", "Center", "Mill", "Valley", "Prospect", "Union", "School", "Railroad", "Sycamore", "Birch", "Cherry", "Dogwood", "Magnolia", "Laurel", "Hickory", "Poplar", "Aspen", "Spruce", "Harbor", "Bay", "Shore", "Ocean", "Summit", "Orchard", "Garden", "Fairview", "Woodland", "Broad", "Market", "Front", "Water", "Bridge", "Commerce", "Liberty", "Grant", "Green", "Heritage", "Canyon", "Mesa", "Desert", "Prairie", "Meadowbrook", "Brookside", "Greenwood", "Kingston", "Wellington", "Hampton", "Arlington", "Cambridge", "Oxford", "Victoria", "Queen", "King", "Prince", "Colonial", "Pioneer", "Eagle", "Hawk", "Falcon", "Fox", "Deer", "Bear", "Wolf", "Heron"]

SUFFIXES = [("Street", "St"), ("Avenue", "Ave"), ("Road", "Rd"), ("Drive", "Dr"), ("Lane", "Ln"),
            ("Boulevard", "Blvd"), ("Court", "Ct"), ("Place", "Pl"), ("Terrace", "Ter"), ("Way", "Way"),
            ("Circle", "Cir"), ("Parkway", "Pkwy")]
DIRECTIONS = [("North", "N"), ("South", "S"), ("East", "E"), ("West", "W"), ("Northwest", "NW"),
              ("Northeast", "NE")]

# city, state, first three ZIP digits, telephone area code
CITIES = [
    ("New York", "NY", "100", "212"), ("Brooklyn", "NY", "112", "718"), ("Buffalo", "NY", "142", "716"),
    ("Los Angeles", "CA", "900", "213"), ("San Diego", "CA", "921", "619"), ("San Jose", "CA", "951", "408"),
    ("San Francisco", "CA", "941", "415"), ("Sacramento", "CA", "958", "916"), ("Fresno", "CA", "937", "559"),
    ("Chicago", "IL", "606", "312"), ("Springfield", "IL", "627", "217"), ("Houston", "TX", "770", "713"),
    ("Dallas", "TX", "752", "214"), ("Austin", "TX", "787", "512"), ("San Antonio", "TX", "782", "210"),
    ("El Paso", "TX", "799", "915"), ("Phoenix", "AZ", "850", "602"), ("Tucson", "AZ", "857", "520"),
    ("Philadelphia", "PA", "191", "215"), ("Pittsburgh", "PA", "152", "412"), ("Jacksonville", "FL", "322", "904"),
    ("Miami", "FL", "331", "305"), ("Tampa", "FL", "336", "813"), ("Orlando", "FL", "328", "407"),
    ("Columbus", "OH", "432", "614"), ("Cleveland", "OH", "441", "216"), ("Cincinnati", "OH", "452", "513"),
    ("Indianapolis", "IN", "462", "317"), ("Charlotte", "NC", "282", "704"), ("Raleigh", "NC", "276", "919"),
    ("Seattle", "WA", "981", "206"), ("Spokane", "WA", "992", "509"), ("Tacoma", "WA", "984", "253"),
    ("Denver", "CO", "802", "303"), ("Boulder", "CO", "803", "720"), ("Boston", "MA", "021", "617"),
    ("Worcester", "MA", "016", "508"), ("Nashville", "TN", "372", "615"), ("Memphis", "TN", "381", "901"),
    ("Detroit", "MI", "482", "313"), ("Grand Rapids", "MI", "495", "616"), ("Portland", "OR", "972", "503"),
    ("Eugene", "OR", "974", "541"), ("Las Vegas", "NV", "891", "702"), ("Reno", "NV", "895", "775"),
    ("Baltimore", "MD", "212", "410"), ("Milwaukee", "WI", "532", "414"), ("Madison", "WI", "537", "608"),
    ("Albuquerque", "NM", "871", "505"), ("Kansas City", "MO", "641", "816"), ("St. Louis", "MO", "631", "314"),
    ("Atlanta", "GA", "303", "404"), ("Savannah", "GA", "314", "912"), ("Omaha", "NE", "681", "402"),
    ("Minneapolis", "MN", "554", "612"), ("St. Paul", "MN", "551", "651"), ("New Orleans", "LA", "701", "504"),
    ("Baton Rouge", "LA", "708", "225"), ("Salt Lake City", "UT", "841", "801"), ("Provo", "UT", "846", "385"),
    ("Richmond", "VA", "232", "804"), ("Norfolk", "VA", "235", "757"), ("Louisville", "KY", "402", "502"),
    ("Lexington", "KY", "405", "859"), ("Oklahoma City", "OK", "731", "405"), ("Tulsa", "OK", "741", "918"),
    ("Birmingham", "AL", "352", "205"), ("Huntsville", "AL", "358", "256"), ("Hartford", "CT", "061", "860"),
    ("New Haven", "CT", "065", "203"), ("Providence", "RI", "029", "401"), ("Newark", "NJ", "071", "973"),
    ("Jersey City", "NJ", "073", "201"), ("Des Moines", "IA", "503", "515"), ("Boise", "ID", "837", "208"),
    ("Little Rock", "AR", "722", "501"), ("Charleston", "SC", "294", "843"), ("Columbia", "SC", "292", "803"),
    ("Anchorage", "AK", "995", "907"), ("Honolulu", "HI", "968", "808"), ("Burlington", "VT", "054", "802"),
    ("Portland", "ME", "041", "207"), ("Manchester", "NH", "031", "603"), ("Wilmington", "DE", "198", "302"),
    ("Fargo", "ND", "581", "701"), ("Sioux Falls", "SD", "571", "605"), ("Billings", "MT", "591", "406"),
    ("Cheyenne", "WY", "820", "307"), ("Jackson", "MS", "392", "601"), ("Wichita", "KS", "672", "316"),
]

EMAIL_DOMAINS = [("gmail.com", 40), ("yahoo.com", 14), ("outlook.com", 10), ("hotmail.com", 9), ("icloud.com", 8),
                 ("aol.com", 4), ("comcast.net", 3), ("protonmail.com", 2), ("msn.com", 2), ("live.com", 2),
                 ("att.net", 2), ("verizon.net", 1), ("me.com", 1), ("mail.com", 1), ("gmx.com", 1)]

# brand, category, relative popularity, price range
BRANDS = [
    ("Northpeak", "Outdoor", 8, (30, 250)), ("Trailhead", "Outdoor", 6, (20, 180)),
    ("Summit Gear", "Outdoor", 4, (40, 400)), ("Urban Thread", "Apparel", 10, (15, 90)),
    ("Linea", "Apparel", 7, (25, 140)), ("Cotton Co", "Apparel", 9, (8, 45)), ("Velour", "Apparel", 3, (60, 300)),
    ("Stride", "Footwear", 8, (40, 160)), ("Pace Runner", "Footwear", 6, (60, 200)),
    ("Hearth & Home", "Home", 7, (10, 120)), ("Nordic Living", "Home", 5, (20, 400)),
    ("Brightwave", "Electronics", 6, (20, 600)), ("Voltix", "Electronics", 4, (15, 300)),
    ("Pure Glow", "Beauty", 7, (6, 60)), ("Botanica", "Beauty", 5, (10, 80)), ("Little Sprout", "Kids", 5, (8, 70)),
    ("Playmakers", "Kids", 4, (10, 90)), ("Fresh Pantry", "Grocery", 9, (3, 25)), ("Daily Brew", "Grocery", 6, (5, 30)),
    ("Active Pulse", "Sports", 5, (15, 150)),
]
PRODUCT_NOUNS = {
    "Outdoor": ["Tent", "Backpack", "Rain Jacket", "Sleeping Bag", "Headlamp", "Trekking Poles"],
    "Apparel": ["T-Shirt", "Hoodie", "Jeans", "Chinos", "Sweater", "Dress", "Socks 3-Pack"],
    "Footwear": ["Running Shoe", "Trail Shoe", "Sneaker", "Sandal"],
    "Home": ["Throw Blanket", "Candle Set", "Mug Set", "Cushion", "Lamp", "Towel Set"],
    "Electronics": ["Earbuds", "Speaker", "Charger", "Smartwatch", "Power Bank"],
    "Beauty": ["Face Cream", "Shampoo", "Lip Balm", "Serum", "Body Lotion"],
    "Kids": ["Puzzle", "Plush Bear", "Building Blocks", "Kids Jacket"],
    "Grocery": ["Granola", "Olive Oil", "Pasta", "Coffee Beans", "Tea Sampler"],
    "Sports": ["Yoga Mat", "Water Bottle", "Dumbbells", "Jump Rope"],
}

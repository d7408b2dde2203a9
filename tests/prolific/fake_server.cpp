// The fake of Prolific's API (fake_prolific.hpp) as a process of its own, for the browser scenario
// tests/browser/prolific.mjs, which runs the real `crowdline serve` against it:
//   fake_prolific_server CERT_FILE
// writes the fake's self-signed certificate (PEM) to CERT_FILE, prints
//   url https://127.0.0.1:PORT
//   token <the API token it accepts>
//   workspace <its workspace id>
// and serves until its standard input closes. A line read meanwhile asks for what the fake saw, answered
// as one line of JSON: "studies" (every study by id), "shape_errors" (requests refused for their shape).

#include <fstream>
#include <iostream>
#include <string>

#include "fake_prolific.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: fake_prolific_server CERT_FILE\n";
        return 2;
    }
    test::fake_prolific fake;
    {
        std::ofstream pem(argv[1], std::ios::binary);
        pem << fake.certificate_pem();
        if (!pem) {
            std::cerr << "fake_prolific_server: cannot write " << argv[1] << "\n";
            return 1;
        }
    }
    std::cout << "url " << fake.base_url() << "\ntoken " << test::fake_prolific::token << "\nworkspace "
              << test::fake_prolific::workspace << std::endl;
    for (std::string line; std::getline(std::cin, line);) {
        nlohmann::json out;
        if (line == "studies") {
            out = nlohmann::json::object();
            for (auto const& id : fake.study_ids()) out[id] = fake.study(id);
        } else if (line == "shape_errors") {
            out = fake.shape_errors();
        } else {
            out = {{"error", "unknown request: " + line}};
        }
        std::cout << out.dump() << std::endl;
    }
    return 0;
}

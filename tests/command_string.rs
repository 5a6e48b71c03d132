//! A `command` string: run by `sh -c` as written, with `exec` put before a lone program so that
//! the program is the instance itself.

use crate::common;

use common::{manifest, wait_for, Controller, SOON};

#[test]
fn every_command_of_a_list_runs() {
    let ctl = Controller::new();
    ctl.write_manifest(
        "list.yaml",
        &manifest(
            "list",
            &[r#"command: "echo one > one.txt && echo two > two.txt; exec sleep 600""#],
        ),
    );
    ctl.start();
    let two = ctl.manifests.join("two.txt");
    wait_for(SOON, "the list's second command ran", || {
        two.exists().then_some(())
    });
    let one = std::fs::read_to_string(ctl.manifests.join("one.txt")).expect("one.txt");
    assert_eq!(one, "one\n");
    ctl.wait_instances("list", 1);
}

#[test]
fn a_lone_program_after_assignments_is_the_instance_itself() {
    let ctl = Controller::new();
    std::fs::write(
        ctl.manifests.join("show.py"),
        "import os, time\n\
         open('pid.tmp', 'w').write(f\"{os.getpid()} {os.environ['GREETING']}\")\n\
         os.rename('pid.tmp', 'pid.txt')\n\
         time.sleep(600)\n",
    )
    .expect("show.py");
    ctl.write_manifest(
        "greet.yaml",
        &manifest("greet", &[r#"command: "GREETING=hi python3 show.py""#]),
    );
    ctl.start();
    let pid_file = ctl.manifests.join("pid.txt");
    let text = wait_for(SOON, "the program wrote its pid", || {
        std::fs::read_to_string(&pid_file).ok()
    });
    let instances = ctl.wait_instances("greet", 1);
    let pid = instances.values().next().expect("one instance");
    assert_eq!(
        text,
        format!("{pid} hi"),
        "the program is the instance (exec'd)"
    );
}

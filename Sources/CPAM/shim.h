#ifndef ROOST_CPAM_SHIM_H
#define ROOST_CPAM_SHIM_H
#include <security/pam_appl.h>
#include <stdlib.h>
#include <string.h>

/// What the conversation needs: the password to answer prompts with, and room for the text of
/// the last password prompt (Dovecot's failure_show_msg shows that text to the client).
struct roost_pam_appdata {
    const char *password;
    const char *user;
    char last_prompt[256];
};

/// The conversation: a password prompt (echo off) gets the password, an echo-on prompt the
/// user name (as Dovecot: never echo a password); informational and error messages get no
/// answer. PAM frees the answers.
static int roost_pam_conversation(int count, const struct pam_message **messages,
                                   struct pam_response **responses, void *appdata) {
    struct roost_pam_appdata *data = appdata;
    if (count <= 0 || count > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
    struct pam_response *r = calloc((size_t)count, sizeof *r);
    if (!r) return PAM_BUF_ERR;
    for (int i = 0; i < count; i++) {
        switch (messages[i]->msg_style) {  // Linux-PAM: an array of pointers
        case PAM_PROMPT_ECHO_ON:
        case PAM_PROMPT_ECHO_OFF:
            if (data && messages[i]->msg && messages[i]->msg_style == PAM_PROMPT_ECHO_OFF) {
                strncpy(data->last_prompt, messages[i]->msg, sizeof data->last_prompt - 1);
                data->last_prompt[sizeof data->last_prompt - 1] = 0;
            }
            if (messages[i]->msg_style == PAM_PROMPT_ECHO_ON)
                r[i].resp = strdup(data && data->user ? data->user : "");
            else
                r[i].resp = strdup(data && data->password ? data->password : "");
            if (!r[i].resp) {
                for (int j = 0; j < i; j++) free(r[j].resp);
                free(r);
                return PAM_BUF_ERR;
            }
            break;
        default:
            r[i].resp = NULL;
        }
    }
    *responses = r;
    return PAM_SUCCESS;
}

/// pam_unix sleeps ~2 s after a failure, blocking a worker; with this callback libpam calls us
/// instead, and Roost applies one uniform asynchronous delay to every failure.
static void roost_pam_fail_delay(int status, unsigned int usec, void *appdata) {
    (void)status; (void)usec; (void)appdata;
}

/// pam_start with Roost's conversation (`data` must outlive the handle) and fail delay.
static inline int roost_pam_start(const char *service, const char *user, struct roost_pam_appdata *data,
                                  pam_handle_t **handle) {
    struct pam_conv conv = { roost_pam_conversation, (void *)data };
    int r = pam_start(service, user, &conv, handle);  // libpam copies the pam_conv struct
    if (r == PAM_SUCCESS) {
        pam_set_item(*handle, PAM_FAIL_DELAY, (const void *)roost_pam_fail_delay);
    }
    return r;
}
#endif


/*
 * ngx_compensation: the documents of a compiled query's answer, for every
 * store backend (see cf_query.h): the projection (include then exclude,
 * dotted paths, through arrays), the state-only form, the list of them.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_store_backend.h"


static int cf_query_include_path(json_t *src, json_t *dst,
    const char *path);


static int
cf_query_include_value(json_t *v, json_t **out, const char *rest)
{
    size_t   i;
    json_t  *e, *sub, *arr;

    if (rest == NULL) {
        /* *out may hold what an earlier path of the same projection took */
        e = json_deep_copy(v);
        if (e == NULL) {
            return -1;
        }

        json_decref(*out);
        *out = e;
        return 0;
    }

    if (json_is_object(v)) {
        sub = json_is_object(*out) ? json_incref(*out) : json_object();
        if (sub == NULL) {
            return -1;
        }

        if (cf_query_include_path(v, sub, rest) != 0) {
            json_decref(sub);
            return -1;
        }

        json_decref(*out);
        *out = sub;
        return 0;
    }

    if (json_is_array(v)) {
        /* every object element keeps the sub-path */
        arr = json_is_array(*out) ? json_incref(*out) : json_array();
        if (arr == NULL) {
            return -1;
        }

        json_array_foreach(v, i, e) {
            if (!json_is_object(e)) {
                continue;
            }

            sub = json_array_get(arr, i);

            if (sub == NULL) {
                sub = json_object();
                if (sub == NULL || json_array_append_new(arr, sub) != 0) {
                    json_decref(arr);
                    return -1;
                }
            }

            if (cf_query_include_path(e, sub, rest) != 0) {
                json_decref(arr);
                return -1;
            }
        }

        json_decref(*out);
        *out = arr;
        return 0;
    }

    return 0;
}


static int
cf_query_include_path(json_t *src, json_t *dst, const char *path)
{
    char         key[256];
    size_t       n;
    json_t      *v, *cur;
    const char  *dot;

    dot = strchr(path, '.');
    n = dot ? (size_t) (dot - path) : strlen(path);

    if (n >= sizeof(key)) {
        return 0;
    }

    memcpy(key, path, n);
    key[n] = '\0';

    v = json_object_get(src, key);
    if (v == NULL) {
        return 0;
    }

    cur = json_incref(json_object_get(dst, key));

    if (cf_query_include_value(v, &cur, dot ? dot + 1 : NULL) != 0) {
        json_decref(cur);
        return -1;
    }

    if (cur == NULL) {
        return 0;
    }

    return json_object_set_new(dst, key, cur);
}


static void
cf_query_exclude_path(json_t *doc, const char *path)
{
    char         key[256];
    size_t       n, i;
    json_t      *v, *e;
    const char  *dot;

    dot = strchr(path, '.');
    n = dot ? (size_t) (dot - path) : strlen(path);

    if (n >= sizeof(key) || !json_is_object(doc)) {
        return;
    }

    memcpy(key, path, n);
    key[n] = '\0';

    if (dot == NULL) {
        json_object_del(doc, key);
        return;
    }

    v = json_object_get(doc, key);

    if (json_is_array(v)) {
        json_array_foreach(v, i, e) {
            cf_query_exclude_path(e, dot + 1);
        }

    } else {
        cf_query_exclude_path(v, dot + 1);
    }
}


/* the document key a projection path names ("_id" is the id) */
static const char *
cf_query_doc_path(const cf_query_t *q, const char *path)
{
    if (strcmp(path, "_id") == 0) {
        return q->store == CF_QUERY_SNAPSHOT ? "aggregateId" : "id";
    }

    return path;
}


static json_t *
cf_query_project(const cf_query_t *q, json_t *doc)
{
    size_t       i;
    json_t      *out, *p;
    const char  *id;
    int          id_excluded;

    id = (q->store == CF_QUERY_SNAPSHOT) ? "aggregateId" : "id";
    id_excluded = 0;

    json_array_foreach(q->exclude, i, p) {
        if (strcmp(cf_query_doc_path(q, json_string_value(p)), id) == 0) {
            id_excluded = 1;
        }
    }

    if (q->include) {
        out = json_object();
        if (out == NULL) {
            json_decref(doc);
            return NULL;
        }

        /* like Mongo, the id stays unless excluded */
        if (!id_excluded
            && cf_query_include_path(doc, out, id) != 0)
        {
            goto failed;
        }

        json_array_foreach(q->include, i, p) {
            if (cf_query_include_path(doc, out,
                    cf_query_doc_path(q, json_string_value(p))) != 0)
            {
                goto failed;
            }
        }

        json_decref(doc);
        doc = out;
    }

    json_array_foreach(q->exclude, i, p) {
        cf_query_exclude_path(doc, cf_query_doc_path(q,
                                                     json_string_value(p)));
    }

    return doc;

failed:

    json_decref(out);
    json_decref(doc);

    return NULL;
}


int
cf_query_deliver(const cf_query_t *q, int state_only, json_t *doc,
    cf_query_doc_pt cb, void *data, char *errbuf, size_t errlen)
{
    int      stop;
    json_t  *state;

    if (q->include || q->exclude) {
        doc = cf_query_project(q, doc);
        if (doc == NULL) {
            snprintf(errbuf, errlen, "out of memory");
            return -1;
        }
    }

    if (state_only) {
        state = json_object_get(doc, "state");
        state = state ? json_incref(state) : json_object();
        json_decref(doc);
        doc = state;

        if (doc == NULL) {
            snprintf(errbuf, errlen, "out of memory");
            return -1;
        }
    }

    stop = cb(data, doc);

    if (stop < 0) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }

    return stop ? 1 : 0;
}


static int
cf_query_append(void *data, json_t *doc)
{
    return json_array_append_new(data, doc) == 0 ? 0 : -1;
}


json_t *
cf_query_rows(cf_store_t *st, const cf_query_t *q, int state_only,
    char *errbuf, size_t errlen)
{
    json_t  *list;

    list = json_array();
    if (list == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }

    if (cf_query_each(st, q, state_only, cf_query_append, list, errbuf,
                      errlen)
        != 0)
    {
        json_decref(list);
        return NULL;
    }

    return list;
}
